// xbarnet network: a trained network end to end on a data set, every weighted layer through its
// mapped crossbars, next to the float network and the same mapping on ideal crossbars; over a
// grid of one or two parameters when --vary is given.
//
//   xbarnet network examples/fashion-mnist/cnn-3d/network.toml --images 1000
//   xbarnet network net.toml --vary parasitics.r_wordline=0.5,1,2,3 --vary mapping.array=128,256
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace xbarnet::cli {

struct NetworkArgs {
  std::string config;
  std::vector<std::string> vary;  // at most two "table.key=v1,v2,..."
  std::vector<std::string> set;   // "table.key=value", over the config (data.* too)
  std::string output_dir;         // overrides [output] dir
  int threads = 0;                // overrides [simulation] threads when > 0
  bool ideal = true;              // also the same mapping on ideal crossbars
  bool progress = false;          // a progress line on `err` (main(): when it is a terminal)
};
int run_network(const NetworkArgs& args, std::ostream& out, std::ostream& err);

}  // namespace xbarnet::cli
