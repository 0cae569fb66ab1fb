// libFuzzer target: the SPICE writer and reader. The bytes are read as a netlist (which must
// parse or be refused, never crash), and they also describe a small crossbar, which must come
// back from write_spice -> read_spice unchanged (resistances and inputs bit for bit,
// conductances within one rounding of 1/(1/G)).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>

#include "netlists/spice.hpp"

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  std::uint8_t byte() { return at_ < n_ ? d_[at_++] : 0; }
  double real() {
    std::uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | byte();
    double v = 0.0;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  // A resistance: 0, open, or a finite positive value from the bytes.
  double resistance() {
    const std::uint8_t kind = byte();
    if (kind % 5 == 0) return 0.0;
    if (kind % 5 == 1) return std::numeric_limits<double>::infinity();
    const double v = std::abs(real());
    return std::isfinite(v) && v > 0.0 ? v : 1.0;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xbarnet;
  {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    const auto deck = netlists::read_spice(in);
    if (deck.is_ok() && !netlists::validate(deck.value().xbar).is_ok()) __builtin_trap();
  }
  Bytes b(data, size);
  const Eigen::Index r = 1 + b.byte() % 5, c = 1 + b.byte() % 5, k = 1 + b.byte() % 3;
  netlists::Crossbar x = netlists::Crossbar::uniform(Eigen::MatrixXd::Zero(r, c), 0, 0, 0, 0);
  for (Eigen::Index i = 0; i < r; ++i) {
    for (Eigen::Index j = 0; j < c; ++j) {
      const double g = std::abs(b.real());
      x.conductance(i, j) = std::isfinite(g) && g < 1e300 && g > 1e-300 ? g : 0.0;
    }
  }
  for (Eigen::Index i = 0; i < r; ++i) x.r_source(i) = b.resistance();
  for (Eigen::Index i = 0; i < x.r_wordline.size(); ++i) x.r_wordline(i) = b.resistance();
  for (Eigen::Index i = 0; i < x.r_bitline.size(); ++i) x.r_bitline(i) = b.resistance();
  for (Eigen::Index j = 0; j < c; ++j) x.r_neuron(j) = b.resistance();
  Eigen::MatrixXd v(k, r);
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    const double u = b.real();
    v(i) = std::isfinite(u) ? u : 0.0;
  }
  std::stringstream text;
  if (!netlists::write_spice(text, x, v).is_ok()) return 0;
  const auto back = netlists::read_spice(text);
  if (!back.is_ok()) {
    std::fprintf(stderr, "round trip refused: %s\n%s\n", back.status().to_string().c_str(),
                 text.str().c_str());
    __builtin_trap();
  }
  const netlists::Crossbar& y = back.value().xbar;
  if (y.r_source != x.r_source || y.r_wordline != x.r_wordline || y.r_bitline != x.r_bitline ||
      y.r_neuron != x.r_neuron || back.value().inputs != v) {
    __builtin_trap();
  }
  for (Eigen::Index i = 0; i < x.conductance.size(); ++i) {
    const double g = x.conductance(i), h = y.conductance(i);
    if (std::abs(g - h) > 4.5e-16 * g) __builtin_trap();
  }
  return 0;
}
