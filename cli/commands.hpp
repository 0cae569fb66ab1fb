// The xbarnet commands, callable from main() and from tests. They throw InputError for bad
// input and return a process exit code; they write only to the streams they are given.
#pragma once

#include <iosfwd>
#include <string>

#include "cli/output.hpp"
#include "cli/tile.hpp"
#include "netlists/spice.hpp"

namespace xbarnet::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInputError = 2;  // a file, option or value breaks a rule
inline constexpr int kExitSolveError = 3;  // the circuit could not be solved (e.g. floating node)
inline constexpr int kExitResource = 4;    // out of memory
inline constexpr int kExitInternal = 5;    // an unexpected exception (a bug: please report it)

// Throws for a failed Status: SolveError (exit kExitSolveError) when a circuit could not be
// solved (core::is_solver_failure), InputError (exit kExitInputError) for a bad value.
[[noreturn]] void throw_status(const std::string& what, const Status& status);

struct SolveArgs {
  TileArgs tile;
  std::string output;    // .npy: column currents, C or K x C [A]
  std::string voltages;  // .npy: K x 4 x R x C [V]: V(w), V(b), cell voltage, IR drop
  std::vector<Eigen::Index> voltage_inputs;  // node voltages of these inputs only (empty: all)
  std::string report;                        // .json: summary and currents
  std::string format = "table";              // stdout: table | json | none
  std::string backend = "cholmod";
  std::string ordering = "nd";  // nd (nested dissection of the grid) | backend
  std::string path = "auto";    // auto | direct | transfer (solver::SolvePath)
  int threads = 1;
  double memory_limit = 0.0;  // B; 0 = half of the machine's physical memory
};
int run_solve(const SolveArgs& args, std::ostream& out, std::ostream& err);

struct ExportArgs {
  TileArgs tile;
  std::string output;  // .cir
  bool control_block = true;
};
int run_export_spice(const ExportArgs& args, std::ostream& out, std::ostream& err);

// Writes the netlist of a tile to `path`, staged in `outputs` (throws InputError when the file
// cannot be written); returns kExitInputError, with the reason on `err`, when the tile cannot be
// exported.
int write_netlist_file(OutputSet& outputs, const std::string& path, const netlists::Crossbar& xbar,
                       const Eigen::MatrixXd& inputs, const netlists::SpiceOptions& options,
                       std::ostream& err);

// Lists the declared parameters; with markdown, docs/parameters.md (all of it).
int run_params(bool markdown, std::ostream& out);
std::string parameters_markdown();

}  // namespace xbarnet::cli
