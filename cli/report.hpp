// What a run prints: the summary of DESIGN.md (Ceres FullReport style), tables and JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/tile.hpp"
#include "solver/crossbar_system.hpp"

namespace xbarnet::cli {

struct RunInfo {
  const Tile* tile = nullptr;
  const solver::CrossbarRun* run = nullptr;
  solver::SystemOptions system;
  solver::SolveOptions options;
};

// The readable summary: build, sizes, nodes, non-zeros and fill, backend, phase times,
// residual and why the run stopped.
std::string summary_text(const RunInfo& info);
nlohmann::json summary_json(const RunInfo& info);

// Column currents as a table: one line per column, one value per input vector. At most
// `max_columns` lines; a final line says how many were left out.
std::string currents_table(const Eigen::MatrixXd& current, Eigen::Index max_columns);

// "100 ohm", "open", "per-row, 10 .. 20 ohm"
std::string describe_resistances(const Eigen::MatrixXd& values, const char* what);

}  // namespace xbarnet::cli
