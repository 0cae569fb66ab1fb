// The layer commands: simulate, compare, map, and the export of a mapped tile.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mapping/simulate.hpp"

namespace xbarnet::cli {

struct SimulateArgs {
  std::string config;
  std::string output_dir;  // overrides [output] dir
  int threads = 0;         // overrides [simulation] threads when > 0
};
int run_simulate(const SimulateArgs& args, std::ostream& out, std::ostream& err);

struct CompareArgs {
  std::string config;
  std::vector<long> arrays;  // square array sizes
  std::string output_dir;
  int threads = 0;
};
int run_compare(const CompareArgs& args, std::ostream& out, std::ostream& err);

struct MapArgs {
  std::string config;
  std::vector<long> arrays;  // square sizes; empty: the config's array
  std::string report;        // JSON file
};
int run_map(const MapArgs& args, std::ostream& out, std::ostream& err);

struct ExportTileArgs {
  std::string config;
  std::string layer;  // name or index; empty: the first layer
  long tile = 0;
  long vector = 0;
  std::string output;
};
int run_export_tile(const ExportTileArgs& args, std::ostream& out, std::ostream& err);

// A layer's plan (counts: arrays, tiles, cells, utilisation) and its whole report, as the JSON
// of `simulate --report` writes them (also the Python package's report dicts).
nlohmann::json plan_json(const mapping::Plan& plan);
nlohmann::json report_json(const std::string& name, const mapping::LayerShape& shape,
                           const mapping::SimulationOptions& options,
                           const mapping::LayerReport& report);

}  // namespace xbarnet::cli
