// The xbarnet program as a function: argv in, exit code out (docs/cli.md, "Exit codes").
#pragma once

#include <iosfwd>

namespace xbarnet::cli {

// Parses the command line and runs the command, writing to `out` and `err`. Never throws.
// `progress_on_terminal`: `err` is a terminal, so long runs may show a progress line on it.
int run_program(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                bool progress_on_terminal = false);

}  // namespace xbarnet::cli
