// xbarnet sweep: one layer simulated over a grid of one or two parameters (line resistance, array
// size, ADC bits, variation sigma, defect rate, correction scheme, or any other declared
// parameter), written as a table (CSV and JSON) and plots of the error and the ADC energy.
//
//   xbarnet sweep layer.toml --vary parasitics.r_wordline=0.5,1,2,3
//                            --vary correction.scheme=none,column_gain,exact_compensation
//
// A parameter is named "table.key" as in the layer config (docs/config.md): [mapping] array
// takes one size n for n x n arrays; the values are checked by the parameter's declared rule
// before anything runs, and the whole output set is written only when every point succeeded.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config.hpp"
#include "mapping/simulate.hpp"

namespace xbarnet::cli {

struct SweepArgs {
  std::string config;
  std::string layer;              // name or index; empty: the first layer
  std::vector<std::string> vary;  // one or two "table.key=v1,v2,..."
  std::string output_dir;         // overrides [output] dir
  int threads = 0;                // overrides [simulation] threads when > 0
};
int run_sweep(const SweepArgs& args, std::ostream& out, std::ostream& err);

// One swept parameter: "table.key" and its values as given.
struct SweepAxis {
  std::string table, key;
  std::vector<std::string> values;
  bool numeric = false;  // every value a number (a real or integer parameter, or the array size)
};
// Parses "table.key=v1,v2,..." (throws InputError naming the option and the rule).
SweepAxis parse_sweep_axis(std::string_view text, std::string_view flag = "--vary");
// Every --vary, parsed; the same parameter twice is refused.
std::vector<SweepAxis> parse_sweep_axes(const std::vector<std::string>& vary);

// Sets "table.key" of the layer options from its text value, checked by the declared rule;
// throws InputError naming the option (`flag`), the parameter, the value and the rule.
// "parasitics.r_line" sets r_wordline and r_bitline together (the wire resistance the source
// papers sweep).
void set_option(mapping::SimulationOptions& options, const std::string& table,
                const std::string& key, const std::string& value, std::string_view flag = "--vary");
// The same for a key of the network config's [data] table.
void set_data_option(DataOptions& data, const std::string& key, const std::string& value,
                     std::string_view flag);

}  // namespace xbarnet::cli
