// The unit-crossbar circuit of DESIGN.md: an R x C memristor array with parasitic source
// (driver), word-line, bit-line and neuron (sense input) resistance. SI units throughout.
//
//   in_i --R_s,i-- w(i,0) --r_w-- w(i,1) -- ... -- w(i,C-1)      (far end open)
//                    |              |
//                  G(i,0)         G(i,1)                          cell (i,j): w(i,j) -- b(i,j)
//                    |              |
//                  b(i,0)         b(i,1)      bit line j: b(0,j) --r_b-- b(1,j) -- ... b(R-1,j)
//                                              b(R-1,j) --R_n,j-- virtual ground (0 V)
//
// A resistance of 0 is an ideal wire (the nodes are merged exactly). A resistance of +inf is an
// open circuit (the element is absent): an undriven row, a broken line segment, an unsensed
// column. Conductances must be finite and >= 0.
#pragma once

#include <Eigen/Dense>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "core/parameter.hpp"
#include "core/status.hpp"

namespace xbarnet::netlists {

using Index = Eigen::Index;

// A resistance value that means "no connection".
inline constexpr double kOpen = std::numeric_limits<double>::infinity();

// Uniform parasitic resistances of a unit array [ohm]: every row's driver, every word- and
// bit-line segment and every column's neuron the same (the usual case, and what a layer's arrays
// use). Declared, with units and rules, in crossbar_parameters().
struct Parasitics {
  double r_source = 0.0;    // ohm
  double r_wordline = 0.0;  // ohm
  double r_bitline = 0.0;   // ohm
  double r_neuron = 0.0;    // ohm
};

struct Crossbar {
  Eigen::MatrixXd conductance;  // R x C [S]: cell (i,j) between w(i,j) and b(i,j)
  Eigen::VectorXd r_source;     // R [ohm]: driver of row i, from in_i to w(i,0)
  Eigen::MatrixXd r_wordline;   // R x (C-1) [ohm]: segment between w(i,j) and w(i,j+1)
  Eigen::MatrixXd r_bitline;    // x C [ohm]: segment between b(i,j) and b(i+1,j)
  Eigen::VectorXd r_neuron;     // C [ohm]: from b(R-1,j) to the virtual ground of column j

  Index rows() const { return conductance.rows(); }
  Index cols() const { return conductance.cols(); }

  // All parasitics of one kind equal (the usual case).
  static Crossbar uniform(Eigen::MatrixXd conductance, double r_source, double r_wordline,
                          double r_bitline, double r_neuron);
  static Crossbar uniform(Eigen::MatrixXd conductance, const Parasitics& p) {
    return uniform(std::move(conductance), p.r_source, p.r_wordline, p.r_bitline, p.r_neuron);
  }
};

// Checks shapes and values. The message names the field, the index, the value and the rule,
// e.g. "r_source[3] = -5 ohm: must be >= 0 or +inf (0 = ideal element, +inf = open)".
Status validate(const Crossbar& xbar);

// Checks an input block: K x R word-line voltages [V], all finite.
Status validate_inputs(const Crossbar& xbar, const Eigen::MatrixXd& inputs);

// Node names, shared by the solver's messages and the SPICE export.
std::string input_node_name(Index i);           // "in3"
std::string word_node_name(Index i, Index j);   // "w3_5"
std::string bit_node_name(Index i, Index j);    // "b3_5"
std::string virtual_ground_node_name(Index j);  // "vg5"

// The declared circuit parameters (uniform values): r_source, r_wordline, r_bitline, r_neuron.
// `solve --help`, the [parasitics] table of a layer config, the JSON reports and
// docs/parameters.md all come from this declaration.
const core::ParameterTable<Parasitics>& parasitic_parameters();

}  // namespace xbarnet::netlists
