#include "netlists/crossbar.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace xbarnet::netlists {

Crossbar Crossbar::uniform(Eigen::MatrixXd conductance, double r_source, double r_wordline,
                           double r_bitline, double r_neuron) {
  Crossbar x;
  const Index r = conductance.rows();
  const Index c = conductance.cols();
  x.conductance = std::move(conductance);
  x.r_source = Eigen::VectorXd::Constant(r, r_source);
  x.r_wordline = Eigen::MatrixXd::Constant(r, c > 0 ? c - 1 : 0, r_wordline);
  x.r_bitline = Eigen::MatrixXd::Constant(r > 0 ? r - 1 : 0, c, r_bitline);
  x.r_neuron = Eigen::VectorXd::Constant(c, r_neuron);
  return x;
}

namespace {

bool valid_conductance(double g) { return std::isfinite(g) && g >= 0.0; }

Status check_shape(const char* field, Index rows, Index cols, Index want_rows, Index want_cols,
                   const char* expected) {
  if (rows == want_rows && cols == want_cols) return Status::ok();
  return Status::invalid_argument(fmt::format("{} has shape {}x{}, expected {}x{} ({})", field,
                                              rows, cols, want_rows, want_cols, expected));
}

template <typename Matrix, typename Pred>
Status check_values(const char* field, const Matrix& m, const char* unit, Pred ok,
                    const std::string& rule) {
  for (Index j = 0; j < m.cols(); ++j) {
    for (Index i = 0; i < m.rows(); ++i) {
      const double v = m(i, j);
      if (ok(v)) continue;
      const std::string where =
          m.cols() == 1 ? fmt::format("[{}]", i) : fmt::format("[{},{}]", i, j);
      return Status::invalid_argument(fmt::format("{}{} = {} {}: {}", field, where, v, unit, rule));
    }
  }
  return Status::ok();
}

// Per-element values against the declared rule of the parameter (parasitic_parameters()).
template <typename Matrix>
Status check_resistances(const char* field, const Matrix& m) {
  const core::Parameter<Parasitics>* p = parasitic_parameters().find(field);
  XBARNET_ASSERT(p != nullptr, "an undeclared parasitic");
  return check_values(
      field, m, "ohm", [&](double v) { return p->range.contains(v); }, p->rule());
}

}  // namespace

Status validate(const Crossbar& x) {
  const Index r = x.rows();
  const Index c = x.cols();
  if (r < 1 || c < 1) {
    return Status::invalid_argument(fmt::format(
        "conductance has shape {}x{}: a crossbar needs at least one row and one column", r, c));
  }
  for (Status s : {
           check_shape("r_source", x.r_source.rows(), 1, r, 1, "one per row"),
           check_shape("r_wordline", x.r_wordline.rows(), x.r_wordline.cols(), r, c - 1,
                       "rows x (cols-1) segments"),
           check_shape("r_bitline", x.r_bitline.rows(), x.r_bitline.cols(), r - 1, c,
                       "(rows-1) x cols segments"),
           check_shape("r_neuron", x.r_neuron.rows(), 1, c, 1, "one per column"),
       }) {
    if (!s.is_ok()) return s;
  }
  for (Status s : {
           check_values("conductance", x.conductance, "S", valid_conductance,
                        "must be finite and >= 0"),
           check_resistances("r_source", x.r_source),
           check_resistances("r_wordline", x.r_wordline),
           check_resistances("r_bitline", x.r_bitline),
           check_resistances("r_neuron", x.r_neuron),
       }) {
    if (!s.is_ok()) return s;
  }
  return Status::ok();
}

Status validate_inputs(const Crossbar& x, const Eigen::MatrixXd& inputs) {
  if (inputs.cols() != x.rows()) {
    return Status::invalid_argument(fmt::format(
        "inputs have {} values per vector, the crossbar has {} rows", inputs.cols(), x.rows()));
  }
  if (inputs.rows() < 1) return Status::invalid_argument("inputs hold no input vector");
  for (Index k = 0; k < inputs.rows(); ++k) {
    for (Index i = 0; i < inputs.cols(); ++i) {
      if (!std::isfinite(inputs(k, i))) {
        return Status::invalid_argument(
            fmt::format("inputs[{},{}] = {} V: must be finite", k, i, inputs(k, i)));
      }
    }
  }
  return Status::ok();
}

std::string input_node_name(Index i) { return fmt::format("in{}", i); }
std::string word_node_name(Index i, Index j) { return fmt::format("w{}_{}", i, j); }
std::string bit_node_name(Index i, Index j) { return fmt::format("b{}_{}", i, j); }
std::string virtual_ground_node_name(Index j) { return fmt::format("vg{}", j); }

const core::ParameterTable<Parasitics>& parasitic_parameters() {
  static const auto kTable =
      core::ParameterTable<Parasitics>("parasitics")
          .real("r_source", &Parasitics::r_source, "ohm", core::Range::at_least(0).with_infinity(),
                "source (driver) resistance of each row, between the ideal input source and the "
                "first cell of the word line",
                "0 = ideal element, +inf = open")
          .real("r_wordline", &Parasitics::r_wordline, "ohm",
                core::Range::at_least(0).with_infinity(),
                "word-line wire resistance of one segment between two adjacent cells of a row",
                "0 = ideal element, +inf = open")
          .real("r_bitline", &Parasitics::r_bitline, "ohm",
                core::Range::at_least(0).with_infinity(),
                "bit-line wire resistance of one segment between two adjacent cells of a column",
                "0 = ideal element, +inf = open")
          .real("r_neuron", &Parasitics::r_neuron, "ohm", core::Range::at_least(0).with_infinity(),
                "neuron (sense input) resistance of each column, between the last cell of the bit "
                "line and the virtual ground",
                "0 = ideal element, +inf = open");
  return kTable;
}

}  // namespace xbarnet::netlists
