// The program as a whole (cli/program.hpp): exit codes and messages for what reaches the
// boundary, CLI11's parse errors included.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/program.hpp"
#include "temp_dir.hpp"

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
  const fs::path file = testing::scratch_path("program-file");
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

// Thread counts beyond the hardware's are capped, and the summary says so (100000 threads used
// to abort the program).
TEST(Program, ThreadCountsAreCappedAtTheHardwares) {
  const Outcome r = run({"solve", "--example", "--threads", "100000", "--format", "none"});
  EXPECT_EQ(r.code, cli::kExitOk) << r.err;
  EXPECT_NE(r.out.find("(asked 100000, capped at the hardware's)"), std::string::npos) << r.out;
  const fs::path dir = testing::scratch_path("program-threads");
  const Outcome s = run({"simulate", kExample, "-o", dir.string(), "--threads", "100000"});
  EXPECT_EQ(s.code, cli::kExitOk) << s.err;
  EXPECT_NE(s.out.find("(asked 100000, capped at the hardware's)"), std::string::npos) << s.out;
}

// Sizes are checked before anything is allocated: the run is refused with its estimate.
TEST(Program, RunsThatWouldExhaustMemoryAreRefusedWithTheEstimate) {
  Outcome r = run({"solve", "--example", "--memory-limit", "1e6", "--format", "none"});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("a 128 x 128 tile with 1 input vector(s) needs about"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("more than the memory limit of 0.001 GB"), std::string::npos) << r.err;
  const fs::path dir = testing::scratch_path("program-huge");
  fs::create_directories(dir);
  const fs::path example = fs::path(kExample).parent_path();
  for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
    fs::copy_file(example / f, dir / f, fs::copy_options::overwrite_existing);
  }
  std::ifstream in(kExample);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("array = [128, 128]"), 18, "array = [65536, 65536]");
  std::ofstream(dir / "huge.toml") << text;
  r = run({"simulate", (dir / "huge.toml").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("the run needs about"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 tiles of 65536 x 65536 cells"), std::string::npos) << r.err;
}

using testing::slurp;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = testing::scratch_path("program-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A device is never written to, nor replaced (the write used to "succeed" on /dev/full).
TEST(Outputs, ADeviceIsRefused) {
  const Outcome r = run({"solve", "--example", "-o", "/dev/full", "--format", "none"});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_NE(r.err.find("/dev/full: exists and is not a regular file"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
  for (const auto& e : fs::directory_iterator("/dev")) {
    EXPECT_EQ(e.path().filename().string().find(".full.xbarnet-"), std::string::npos);
  }
}

// A later output that cannot be written leaves the earlier ones untouched.
TEST(Outputs, AFailedRunReplacesNothing) {
  const fs::path dir = fresh_dir("solve");
  std::ofstream(dir / "I.npy") << "the previous run";
  const Outcome r = run({"solve", "--example", "-o", (dir / "I.npy").string(), "--voltages",
                         (dir / "missing" / "v.npy").string(), "--format", "none"});
  EXPECT_EQ(r.code, cli::kExitInputError);
  EXPECT_EQ(slurp(dir / "I.npy"), "the previous run");
  EXPECT_EQ(listing(dir), std::vector<std::string>{"I.npy"});  // no temporary left behind
  // The same command with a good second path replaces both.
  const Outcome ok = run({"solve", "--example", "-o", (dir / "I.npy").string(), "--voltages",
                          (dir / "v.npy").string(), "--format", "none"});
  EXPECT_EQ(ok.code, cli::kExitOk) << ok.err;
  EXPECT_EQ(slurp(dir / "I.npy").substr(1, 5), "NUMPY");
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"I.npy", "v.npy"}));
}

// simulate writes its whole output set or nothing: a second layer that fails leaves no file of
// the first beside an old report.
TEST(Outputs, SimulateIsCompleteOrAbsent) {
  const fs::path dir = fresh_dir("simulate");
  const fs::path example = fs::path(kExample).parent_path();
  for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
    fs::copy_file(example / f, dir / f);
  }
  std::string text = slurp(kExample);
  // A second layer that only fails when it is simulated: sub-image partitioning needs stride 1.
  text.replace(text.find("[mapping]"), 9,
               "[[layer]]\nname = \"strided\"\nkind = \"conv\"\nweights = \"weights.npy\"\n"
               "input = \"input.npy\"\nstride = 2\n\n[mapping]");
  text.replace(text.find("scheme = \"im2col\""), 17, "scheme = \"subimage\"");
  std::ofstream(dir / "two.toml") << text;
  fs::create_directories(dir / "out");
  std::ofstream(dir / "out" / "report.json") << "old";
  const Outcome r = run({"simulate", (dir / "two.toml").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.code, cli::kExitInputError) << r.err;
  EXPECT_NE(r.err.find("needs stride 1"), std::string::npos) << r.err;
  EXPECT_EQ(listing(dir / "out"), std::vector<std::string>{"report.json"});
  EXPECT_EQ(slurp(dir / "out" / "report.json"), "old");
  // A good run says what it replaced.
  const Outcome ok = run({"simulate", kExample, "-o", (dir / "out").string()});
  EXPECT_EQ(ok.code, cli::kExitOk) << ok.err;
  EXPECT_NE(ok.out.find("replaced: " + (dir / "out" / "report.json").string()), std::string::npos)
      << ok.out;
  EXPECT_EQ(listing(dir / "out"),
            (std::vector<std::string>{"conv.ideal.npy", "conv.ir_drop.png", "conv.simulated.npy",
                                      "report.json", "report.txt"}));
}

}  // namespace
}  // namespace xbarnet
