// What a run prints: the summary of DESIGN.md (Ceres FullReport style), tables and JSON.
#pragma once

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>
#include <variant>

#include "cli/tile.hpp"
#include "core/parameter.hpp"
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

// A parameter table's values as a JSON object, keyed by Parameter::json_key() ("r_lrs_ohm").
template <typename S>
nlohmann::json parameters_json(const core::ParameterTable<S>& table, const S& values) {
  nlohmann::json j = nlohmann::json::object();
  for (const core::Parameter<S>& p : table.parameters()) {
    std::visit([&](const auto& v) { j[p.json_key()] = v; }, p.get(values));
  }
  return j;
}

// "r_lrs 100000 ohm, r_hrs 1e+06 ohm, sign differential, ..." from the declaration.
template <typename S>
std::string parameters_text(const core::ParameterTable<S>& table, const S& values) {
  std::string out;
  for (const core::Parameter<S>& p : table.parameters()) {
    const core::Value v = p.get(values);
    const std::string text =
        std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : core::to_string(v);
    out += fmt::format("{}{} {}{}", out.empty() ? "" : ", ", p.name, text,
                       p.unit.empty() || p.unit == "cells" ? "" : " " + p.unit);
  }
  return out;
}

// "100 ohm", "open", "per-row, 10 .. 20 ohm"
std::string describe_resistances(const Eigen::MatrixXd& values, const char* what);

}  // namespace xbarnet::cli
