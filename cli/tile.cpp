#include "cli/tile.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <random>

#include "cli/npy.hpp"
#include "core/random.hpp"

namespace xbarnet::cli {

bool parse_resistance(const std::string& text, double& ohms) {
  if (text == "open" || text == "inf" || text == "+inf") {
    ohms = netlists::kOpen;
    return true;
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, ohms);
  return ec == std::errc() && ptr == end && !text.empty();
}

namespace {

bool is_npy_name(const std::string& text) {
  return text.size() > 4 && text.compare(text.size() - 4, 4, ".npy") == 0;
}

// A uniform value or a file: returns the value broadcast to rows x cols.
Eigen::MatrixXd resistance_values(const std::string& option, const std::string& text,
                                  Eigen::Index rows, Eigen::Index cols, const char* shape_rule) {
  double ohms = 0.0;
  if (parse_resistance(text, ohms)) return Eigen::MatrixXd::Constant(rows, cols, ohms);
  if (!is_npy_name(text)) {
    throw InputError(fmt::format(
        "{} '{}': expected a resistance in ohm (e.g. 2.5), 'open', or a .npy file", option, text));
  }
  const NpyArray a = read_npy(text);
  if (a.size() == 1 && a.shape.size() <= 1) return Eigen::MatrixXd::Constant(rows, cols, a.data[0]);
  if (cols == 1) return npy_vector(a, text, option, rows);
  const Eigen::MatrixXd m = npy_matrix(a, text, option);
  if (m.rows() != rows || m.cols() != cols) {
    throw InputError(fmt::format("{}: {} must have shape ({}, {}) ({}), got ({}, {})", text, option,
                                 rows, cols, shape_rule, m.rows(), m.cols()));
  }
  return m;
}

}  // namespace

namespace {

// The parasitics of a tile: each given option, or the fallback's value.
void apply_resistances(const TileArgs& args, Tile& t) {
  const Eigen::Index r = t.xbar.rows();
  const Eigen::Index c = t.xbar.cols();
  if (!args.r_source.empty()) {
    t.xbar.r_source = resistance_values("--r-source", args.r_source, r, 1, "one per row");
  }
  if (!args.r_wordline.empty()) {
    t.xbar.r_wordline =
        resistance_values("--r-wordline", args.r_wordline, r, c - 1, "rows x (cols-1) segments");
  }
  if (!args.r_bitline.empty()) {
    t.xbar.r_bitline =
        resistance_values("--r-bitline", args.r_bitline, r - 1, c, "(rows-1) x cols segments");
  }
  if (!args.r_neuron.empty()) {
    t.xbar.r_neuron = resistance_values("--r-neuron", args.r_neuron, c, 1, "one per column");
  }
}

}  // namespace

Tile load_tile(const TileArgs& args) {
  if (args.example) {
    if (!args.conductance.empty() || !args.input.empty()) {
      throw InputError(
          "--example is the built-in tile: give it without --conductance and --input, or give "
          "those without --example");
    }
    Tile t = example_tile();
    apply_resistances(args, t);
    if (Status s = netlists::validate(t.xbar); !s.is_ok()) {
      throw InputError(fmt::format("--example: {}", s.message()));
    }
    return t;
  }
  if (args.conductance.empty()) {
    throw InputError("--conductance is required (an R x C .npy file in siemens), or use --example");
  }
  if (args.input.empty()) {
    throw InputError("--input is required (an R or K x R .npy file in volts), or use --example");
  }
  Tile t;
  t.origin = fmt::format("--conductance {} --input {}", args.conductance, args.input);
  const Eigen::MatrixXd g = npy_matrix(read_npy(args.conductance), args.conductance, "conductance");
  if (g.rows() < 1 || g.cols() < 1) {
    throw InputError(
        fmt::format("{}: conductance has shape ({}, {}): a crossbar needs at least "
                    "one row and one column",
                    args.conductance, g.rows(), g.cols()));
  }
  const Eigen::Index r = g.rows();
  const NpyArray v = read_npy(args.input);
  if (v.shape.size() == 1) {
    if (v.shape[0] != r) {
      throw InputError(fmt::format("{}: input has {} values, the conductance matrix {} has {} rows",
                                   args.input, v.shape[0], args.conductance, r));
    }
    t.inputs = Eigen::Map<const Eigen::RowVectorXd>(v.data.data(), r);
    t.single_vector = true;
  } else {
    t.inputs = npy_matrix(v, args.input, "input (R or K x R)");
    if (t.inputs.cols() != r) {
      throw InputError(fmt::format(
          "{}: input block is {} x {} (K x R), the conductance matrix {} has R = {} rows",
          args.input, t.inputs.rows(), t.inputs.cols(), args.conductance, r));
    }
  }
  t.xbar = netlists::Crossbar::uniform(g, netlists::Parasitics{});  // the declared defaults
  apply_resistances(args, t);
  if (Status s = netlists::validate(t.xbar); !s.is_ok()) {
    throw InputError(fmt::format("{}: {}", args.conductance, s.message()));
  }
  if (Status s = netlists::validate_inputs(t.xbar, t.inputs); !s.is_ok()) {
    throw InputError(fmt::format("{}: {}", args.input, s.message()));
  }
  return t;
}

Tile example_tile() {
  constexpr Eigen::Index kSize = 128;
  constexpr Eigen::Index kVectors = 4;
  constexpr double kLrsOhm = 10e3;   // illustrative low-resistance state
  constexpr double kHrsOhm = 100e3;  // illustrative high-resistance state
  constexpr double kReadVolt = 0.2;  // largest word-line voltage
  std::mt19937_64 rng(20261122);
  Eigen::MatrixXd g(kSize, kSize);
  for (Eigen::Index i = 0; i < kSize; ++i) {
    for (Eigen::Index j = 0; j < kSize; ++j) {
      g(i, j) = 1.0 / kHrsOhm + core::unit_uniform(rng) * (1.0 / kLrsOhm - 1.0 / kHrsOhm);
    }
  }
  Tile t;
  t.inputs.resize(kVectors, kSize);
  for (Eigen::Index k = 0; k < kVectors; ++k) {
    for (Eigen::Index i = 0; i < kSize; ++i) t.inputs(k, i) = kReadVolt * core::unit_uniform(rng);
  }
  t.xbar = netlists::Crossbar::uniform(std::move(g), 100.0, 2.5, 2.5, 100.0);
  t.origin = "built-in example (128 x 128, G in [1/100k, 1/10k] S, inputs in [0, 0.2] V)";
  return t;
}

}  // namespace xbarnet::cli
