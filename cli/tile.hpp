// Loading a unit-crossbar tile and its inputs from command-line values and .npy files.
#pragma once

#include <Eigen/Dense>
#include <string>

#include "netlists/crossbar.hpp"

namespace xbarnet::cli {

// What the user gave on the command line for one tile.
struct TileArgs {
  std::string conductance;  // .npy, R x C [S]
  std::string input;        // .npy, R or K x R [V]
  // Each: a number in ohm, "open" (+inf), or a .npy file (per-row / per-column / per-segment).
  // Empty: not given (0 ohm for a tile from files; the example's own value with --example).
  std::string r_source;
  std::string r_wordline;
  std::string r_bitline;
  std::string r_neuron;
  // Use the built-in example tile instead of --conductance / --input; the --r-* options that are
  // given replace its parasitics.
  bool example = false;
};

struct Tile {
  netlists::Crossbar xbar;
  Eigen::MatrixXd inputs;      // K x R [V]
  std::string origin;          // where it came from, for the summary
  bool single_vector = false;  // the input was a 1-d array: outputs come back 1-d too
};

// Throws InputError naming the file or option, the value and the rule.
Tile load_tile(const TileArgs& args);

// The built-in example: a deterministic 128 x 128 tile with 4 input vectors and illustrative
// parasitics (see docs/model.md, "The built-in example").
Tile example_tile();

// Parses one resistance option value: a number, "open"/"inf", or "" (the default). Returns
// false when the text is a file name instead.
bool parse_resistance(const std::string& text, double& ohms);

}  // namespace xbarnet::cli
