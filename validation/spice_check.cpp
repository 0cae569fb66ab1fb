#include "validation/spice_check.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/random.hpp"
#include "netlists/spice.hpp"

namespace xbarnet::validation {

using core::uniform;

StatusOr<Eigen::MatrixXd> parse_ngspice_currents(const std::string& output, Eigen::Index vectors,
                                                 Eigen::Index cols) {
  Eigen::MatrixXd current = Eigen::MatrixXd::Zero(vectors, cols);
  const std::regex marker(R"(^xbarnet-input (\d+)\s*$)");
  // ngspice may append progress text to a line; read the value at the start of the line only.
  const std::regex value(R"(^i\(vcol(\d+)\) = ([-+0-9.eE]+))");
  std::istringstream in(output);
  std::string line;
  Eigen::Index k = -1;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, marker)) {
      k = std::stoll(m[1].str());
    } else if (std::regex_search(line, m, value)) {
      const Eigen::Index j = std::stoll(m[1].str());
      if (k < 0 || k >= vectors || j >= cols) {
        return Status::invalid_argument(fmt::format("unexpected ngspice line '{}'", line));
      }
      current(k, j) = std::stod(m[2].str());
    }
  }
  if (k != vectors - 1) {
    return Status::invalid_argument(
        fmt::format("ngspice output holds {} of {} operating points; its output was:\n{}", k + 1,
                    vectors, output.substr(0, 4000)));
  }
  return current;
}

bool ngspice_available(const std::string& ngspice) {
  const std::string cmd = fmt::format("command -v {} >/dev/null 2>&1", ngspice);
  return std::system(cmd.c_str()) == 0;
}

StatusOr<Eigen::MatrixXd> run_ngspice(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                      const std::filesystem::path& netlist,
                                      const std::string& ngspice) {
  {
    std::ofstream out(netlist);
    if (!out) return Status::invalid_argument(fmt::format("{}: cannot write", netlist.string()));
    if (Status s = netlists::write_spice(out, xbar, inputs); !s.is_ok()) return s;
  }
  // stderr (progress and warnings) goes to a log beside the netlist, stdout is parsed.
  const std::string log = netlist.string() + ".log";
  const std::string cmd = fmt::format("{} -b '{}' 2>'{}'", ngspice, netlist.string(), log);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return Status::invalid_argument(fmt::format("cannot run '{}'", cmd));
  std::string output;
  std::array<char, 4096> buf{};
  size_t got = 0;
  while ((got = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), got);
  const int rc = pclose(pipe);
  if (rc != 0) {
    return Status::invalid_argument(fmt::format("'{}' exited with status {}; see {}; output:\n{}",
                                                cmd, rc, log, output.substr(0, 4000)));
  }
  return parse_ngspice_currents(output, inputs.rows(), xbar.cols());
}

RandomTile random_tile(std::mt19937_64& rng, Eigen::Index max_size, Eigen::Index vectors) {
  RandomTile t;
  const Eigen::Index r =
      1 + static_cast<Eigen::Index>(rng() % static_cast<std::uint64_t>(max_size));
  const Eigen::Index c =
      1 + static_cast<Eigen::Index>(rng() % static_cast<std::uint64_t>(max_size));
  // One typical value per parasitic kind for this tile (zero in about 1 case out of 5), then a
  // +-50 % spread per element, with a few exact zeros scattered in.
  auto typical = [&](double lo, double hi) { return rng() % 5 == 0 ? 0.0 : uniform(rng, lo, hi); };
  const double rs = typical(10.0, 1000.0);
  const double rw = typical(0.5, 5.0);
  const double rb = typical(0.5, 5.0);
  const double rn = typical(10.0, 1000.0);
  auto element = [&](double base) {
    return (base == 0.0 || rng() % 20 == 0) ? 0.0 : base * uniform(rng, 0.5, 1.5);
  };
  netlists::Crossbar& x = t.xbar;
  x.conductance.resize(r, c);
  for (Eigen::Index i = 0; i < r; ++i) {
    for (Eigen::Index j = 0; j < c; ++j) {
      x.conductance(i, j) = rng() % 25 == 0 ? 0.0 : uniform(rng, 1e-5, 1e-4);
    }
  }
  x.r_source = Eigen::VectorXd::NullaryExpr(r, [&] { return element(rs); });
  x.r_wordline = Eigen::MatrixXd::NullaryExpr(r, c - 1, [&] { return element(rw); });
  x.r_bitline = Eigen::MatrixXd::NullaryExpr(r - 1, c, [&] { return element(rb); });
  x.r_neuron = Eigen::VectorXd::NullaryExpr(c, [&] { return element(rn); });
  t.inputs.resize(vectors, r);
  for (Eigen::Index k = 0; k < vectors; ++k) {
    for (Eigen::Index i = 0; i < r; ++i) t.inputs(k, i) = uniform(rng, 0.0, 0.3);
  }
  t.description = fmt::format(
      "{}x{}, r_source~{:.4g}, r_wordline~{:.4g}, r_bitline~{:.4g}, "
      "r_neuron~{:.4g} ohm",
      r, c, rs, rw, rb, rn);
  return t;
}

double max_relative_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& ref) {
  const double floor = 1e-12 * ref.cwiseAbs().maxCoeff();
  double worst = 0.0;
  for (Eigen::Index j = 0; j < ref.cols(); ++j) {
    for (Eigen::Index i = 0; i < ref.rows(); ++i) {
      const double denom = std::max(std::abs(ref(i, j)), floor);
      if (denom > 0.0) worst = std::max(worst, std::abs(a(i, j) - ref(i, j)) / denom);
    }
  }
  return worst;
}

}  // namespace xbarnet::validation
