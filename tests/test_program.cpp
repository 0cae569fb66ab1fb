// The program as a whole (cli/program.hpp): exit codes and messages for what reaches the
// boundary, CLI11's parse errors included.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/program.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int code;
  std::string out, err;
};

Outcome run(std::vector<std::string> args) {
  args.insert(args.begin(), "xbarnet");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = cli::run_program(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

const std::string kExample =
    (fs::path(XBARNET_SOURCE_DIR) / "examples" / "default" / "layer.toml").string();

TEST(Program, ParseErrorsAreInputErrors) {
  Outcome r = run({"solve", "--bogus"});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  EXPECT_EQ(run({}).code, cli::kExitInputError);  // a subcommand is required
  EXPECT_EQ(run({"solve", "--threads", "two"}).code, cli::kExitInputError);
  r = run({"--help"});
  EXPECT_EQ(r.code, cli::kExitOk);
  EXPECT_NE(r.out.find("simulate"), std::string::npos);
  EXPECT_EQ(run({"--version"}).code, cli::kExitOk);
}

// An output directory that cannot be created is bad input, not a crash (it used to reach
// std::terminate as an uncaught filesystem_error).
TEST(Program, AnUnusableOutputDirectoryIsAnInputError) {
  const fs::path file = fs::temp_directory_path() / "xbarnet-test-program-file";
  std::ofstream(file) << "x";
  const Outcome r = run({"simulate", kExample, "-o", (file / "out").string()});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("xbarnet: error:"), std::string::npos) << r.err;
}

TEST(Program, BadValuesAndUnsolvableTilesHaveTheirCodes) {
  Outcome r = run({"solve", "--example", "--r-source", "-3"});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("r_source[0] = -3 ohm"), std::string::npos) << r.err;
  r = run({"solve", "--example", "--r-source", "open", "--r-neuron", "open", "--format", "none"});
  EXPECT_EQ(r.code, cli::kExitSolveError);
  EXPECT_NE(r.err.find("floating node"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace xbarnet
