// Cross-check of xbarnet against ngspice: export a tile, run `ngspice -b`, read the column
// currents it prints, compare. Used by the validation program and by the test suite.
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <random>
#include <string>

#include "core/status.hpp"
#include "netlists/crossbar.hpp"

namespace xbarnet::validation {

// Reads the column currents (K x C) from ngspice's output of an xbarnet netlist: the lines
// "i(vcol<j>) = <value>" after each "xbarnet-input <k>" marker. Open columns read as 0.
StatusOr<Eigen::MatrixXd> parse_ngspice_currents(const std::string& output, Eigen::Index vectors,
                                                 Eigen::Index cols);

// Writes the netlist to `netlist`, runs `ngspice -b` on it, returns the parsed currents.
StatusOr<Eigen::MatrixXd> run_ngspice(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                      const std::filesystem::path& netlist,
                                      const std::string& ngspice = "ngspice");

// Is an ngspice executable on the PATH?
bool ngspice_available(const std::string& ngspice = "ngspice");

// A random tile for the cross-check: rows and columns in [1, max_size], G in [1/100k, 1/10k] S
// with some zero cells, parasitics drawn per element from wide ranges with some exact zeros
// (ideal drivers, wires, virtual grounds) and unequal word- and bit-line values.
struct RandomTile {
  netlists::Crossbar xbar;
  Eigen::MatrixXd inputs;  // K x R [V], in [0, 0.3]
  std::string description;
};
RandomTile random_tile(std::mt19937_64& rng, Eigen::Index max_size, Eigen::Index vectors);

// max over entries of |a - ref| / max(|ref|, floor), floor = 1e-12 * max |ref|.
double max_relative_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& ref);

}  // namespace xbarnet::validation
