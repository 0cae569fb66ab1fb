// SPICE export of a unit crossbar with one or more input vectors, for ngspice batch mode.
//
// The netlist is printed from the crossbar's element list (netlists/netlist.hpp), element by
// element, so it is the circuit the solver stamps. Node names follow DESIGN.md: in<i> (ideal
// input source), w<i>_<j> (word line at cell i,j), b<i>_<j> (bit line at cell i,j), vg<j> (the
// virtual ground of column j). The neuron resistance Rn<j> runs from b<R-1>_<j> to vg<j>, and
// column j's current is read through the 0 V source Vcol<j> from vg<j> to ground, so
// `ngspice -b tile.cir` prints i(vcol<j>), which equals xbarnet's column current I_j. Zero
// resistances are written as 0 V sources (an exact short that keeps both node names), open ones
// (+inf) and zero conductances are omitted with a comment; every value has 17 significant digits.
#pragma once

#include <Eigen/Dense>
#include <iosfwd>
#include <string>

#include "netlists/crossbar.hpp"

namespace xbarnet::netlists {

struct SpiceOptions {
  std::string title = "xbarnet unit crossbar";
  // Add a .control block that runs an operating point per input vector and prints every column
  // current with 17 significant digits. Without it the deck has a plain .op.
  bool control_block = true;
};

// Writes the netlist. `inputs` is K x R (K input vectors of R word-line voltages [V]).
// Returns the validation status; nothing is written when the crossbar or inputs are invalid.
Status write_spice(std::ostream& out, const Crossbar& xbar, const Eigen::MatrixXd& inputs,
                   const SpiceOptions& options = {});

// Reads back a netlist that write_spice() wrote (the import of what xbarnet exports; not a
// general SPICE parser): the crossbar and its K x R input vectors. Every element must appear
// exactly once; anything else is refused with the line number and the rule. Resistances come
// back bit for bit (17 significant digits); a cell's conductance is 1 / (its printed resistance),
// within one rounding of the original.
struct SpiceDeck {
  Crossbar xbar;
  Eigen::MatrixXd inputs;  // K x R [V]
};
StatusOr<SpiceDeck> read_spice(std::istream& in);

// The name of column j's current as ngspice prints it: "i(vcol3)".
std::string spice_column_current_name(Index j);

}  // namespace xbarnet::netlists
