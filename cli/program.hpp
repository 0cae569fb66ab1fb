// The xbarnet program as a function: argv in, exit code out (docs/cli.md, "Exit codes").
#pragma once

#include <iosfwd>

namespace xbarnet::cli {

// Parses the command line and runs the command, writing to `out` and `err`. Never throws.
int run_program(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace xbarnet::cli
