#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/npy.hpp"
#include "core/parameter.hpp"
#include "netlists/crossbar.hpp"
#include "solver/crossbar_system.hpp"
#include "temp_dir.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;
using cli::InputError;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = xbarnet::testing::scratch_path(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The 2 x 2 tile worked by hand in docs/model.md (G.npy; 100-ohm word and bit lines, ideal
  // drivers and neurons), with the currents and voltages to write; the inputs (V.npy) are the
  // caller's.
  cli::SolveArgs hand_tile() const {
    Eigen::MatrixXd g(2, 2);
    g << 1.0 / 1000, 1.0 / 500, 1.0 / 250, 1.0 / 200;
    cli::write_npy_matrix(path("G.npy"), g);
    cli::SolveArgs args;
    args.tile.conductance = path("G.npy");
    args.tile.input = path("V.npy");
    args.tile.r_wordline = "100";
    args.tile.r_bitline = "100";
    args.output = path("I.npy");
    args.voltages = path("volts.npy");
    return args;
  }

  // A raw .npy file with the given header dictionary and payload.
  std::string raw_npy(const std::string& name, const std::string& dict, const std::string& payload,
                      int version = 1) {
    std::string header = dict;
    const size_t prefix = version == 1 ? 10 : 12;
    header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::ofstream f(path(name), std::ios::binary);
    f.write("\x93NUMPY", 6);
    f.put(static_cast<char>(version));
    f.put(0);
    const auto len = static_cast<std::uint32_t>(header.size());
    f.put(static_cast<char>(len & 0xff));
    f.put(static_cast<char>((len >> 8) & 0xff));
    if (version > 1) {
      f.put(static_cast<char>((len >> 16) & 0xff));
      f.put(static_cast<char>(len >> 24));
    }
    f << header << payload;
    return path(name);
  }

  fs::path dir_;
};

std::string bytes_of(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

using Npy = TempDir;

TEST_F(Npy, RoundTripsFloat64) {
  Eigen::MatrixXd m(2, 3);
  m << 1, 2, 3, 4, 5, 6.5;
  cli::write_npy_matrix(path("m.npy"), m);
  const cli::NpyArray a = cli::read_npy(path("m.npy"));
  ASSERT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(cli::npy_matrix(a, "m", "m"), m);
  cli::write_npy_vector(path("v.npy"), Eigen::Vector3d(1, 2, 3));
  EXPECT_EQ(cli::read_npy(path("v.npy")).shape, (std::vector<std::int64_t>{3}));
}

TEST_F(Npy, ReadsFloat32FortranOrderAndVersion2) {
  // Fortran order: the 2 x 3 matrix [[1,2,3],[4,5,6]] is stored column by column.
  const std::string f =
      raw_npy("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
              bytes_of({1, 4, 2, 5, 3, 6}), 2);
  const cli::NpyArray a = cli::read_npy(f);
  EXPECT_EQ(a.data, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST_F(Npy, RejectsOtherDtypesNamingFileAndRule) {
  const std::string f = raw_npy(
      "i.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'));
  try {
    cli::read_npy(f);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(f), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("dtype '<i8' is not supported"), std::string::npos);
  }
}

TEST_F(Npy, RejectsFilesThatAreNotNpy) {
  { std::ofstream(path("g.npy")) << "1,2,3\n4,5,6\n"; }
  EXPECT_THROW(
      {
        try {
          cli::read_npy(path("g.npy"));
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("not a NumPy .npy file"), std::string::npos);
          throw;
        }
      },
      InputError);
  const std::string t = raw_npy(
      "t.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", std::string(16, '\0'));
  EXPECT_THROW(cli::read_npy(t), InputError);  // truncated: 4 values need 32 bytes
  EXPECT_THROW(cli::read_npy(path("missing.npy")), InputError);
}

// Hostile headers: sizes are checked as 64-bit values and against the file's bytes before
// anything is allocated (a short file claiming a huge shape used to allocate it, or crash).
TEST_F(Npy, HostileShapesAreRefusedBeforeAllocating) {
  auto error_of = [&](const std::string& shape) {
    const std::string f =
        raw_npy("h.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }",
                std::string(16, '\0'));
    try {
      cli::read_npy(f);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("(100000, 100000)")
                .find("truncated data: shape (100000, 100000) needs 80000000000 bytes, the file "
                      "holds 16"),
            std::string::npos)
      << error_of("(100000, 100000)");
  EXPECT_NE(error_of("(99999999999999999999,)").find("which is not a dimension"), std::string::npos)
      << error_of("(99999999999999999999,)");
  EXPECT_NE(error_of("(4294967296, 4294967296)").find("more values than any file can hold"),
            std::string::npos);
  EXPECT_NE(error_of("(-2,)").find("which is not a dimension"), std::string::npos);
  EXPECT_NE(error_of("7").find("is not a tuple"), std::string::npos) << error_of("7");
  EXPECT_EQ(error_of("(2,)"), "no error");
  EXPECT_EQ(cli::read_npy(path("h.npy")).size(), 2);
}

using Commands = TempDir;

// A matrix with no columns is refused with its shape (it used to abort the program).
TEST_F(Commands, AnEmptyConductanceMatrixIsRefused) {
  cli::write_npy(path("G.npy"), {16, 0}, nullptr);
  cli::write_npy_vector(path("V.npy"), Eigen::VectorXd::Constant(16, 0.1));
  cli::SolveArgs args;
  args.tile.conductance = path("G.npy");
  args.tile.input = path("V.npy");
  std::ostringstream out, err;
  try {
    cli::run_solve(args, out, err);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("conductance has shape (16, 0): a crossbar needs at least "
                                         "one row and one column"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Commands, SolveWritesCurrentsAndVoltages) {
  cli::SolveArgs args = hand_tile();
  cli::write_npy_vector(path("V.npy"), Eigen::Vector2d(1.0, 0.5));
  args.report = path("report.json");
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_solve(args, out, err), cli::kExitOk) << err.str();
  const cli::NpyArray i = cli::read_npy(path("I.npy"));
  ASSERT_EQ(i.shape, (std::vector<std::int64_t>{2}));  // 1-d input -> 1-d output
  EXPECT_NEAR(i.data[0], 1.0 / 1100 + 0.5 / 250, 1e-15);
  EXPECT_NEAR(i.data[1], 1.0 / 700 + 0.5 / 300, 1e-15);
  const cli::NpyArray volts = cli::read_npy(path("volts.npy"));
  ASSERT_EQ(volts.shape, (std::vector<std::int64_t>{1, 4, 2, 2}));
  // plane 3 (IR drop) of cell (0,0): V_0 - (V_w - V_b) = 0 - ... = b(0,0) = 1/11 V
  EXPECT_NEAR(volts.data[3 * 4 + 0], 100.0 / 1100.0, 1e-15);
  EXPECT_NE(out.str().find("xbarnet summary"), std::string::npos);
  EXPECT_NE(out.str().find("residual"), std::string::npos);
  EXPECT_TRUE(fs::exists(path("report.json")));
}

// --voltage-inputs: the voltages of the listed inputs only, in the listed order, each with the
// IR drop against its own input; the currents of all inputs as without it (here by hand: the
// 2 x 2 tile above, whose currents are linear in the inputs).
TEST_F(Commands, VoltagesOfListedInputsOnly) {
  cli::SolveArgs args = hand_tile();
  Eigen::MatrixXd v(3, 2);
  v << 1.0, 0.5, 0.0, 0.0, 2.0, 1.0;  // input 2 is twice input 0
  cli::write_npy_matrix(path("V.npy"), v);
  args.voltage_inputs = {2, 0};
  args.path = "transfer";
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_solve(args, out, err), cli::kExitOk) << err.str();
  const cli::NpyArray i = cli::read_npy(path("I.npy"));
  ASSERT_EQ(i.shape, (std::vector<std::int64_t>{3, 2}));
  EXPECT_NEAR(i.data[0], 1.0 / 1100 + 0.5 / 250, 1e-15);
  EXPECT_NEAR(i.data[5], 2.0 * (1.0 / 700 + 0.5 / 300), 1e-15);
  const cli::NpyArray volts = cli::read_npy(path("volts.npy"));
  ASSERT_EQ(volts.shape, (std::vector<std::int64_t>{2, 4, 2, 2}));
  // IR drop of cell (0,0): 1/11 V for input 0, twice that for input 2 (listed first).
  EXPECT_NEAR(volts.data[3 * 4 + 0], 2.0 * 100.0 / 1100.0, 1e-15);
  EXPECT_NEAR(volts.data[16 + 3 * 4 + 0], 100.0 / 1100.0, 1e-15);
  EXPECT_NE(out.str().find("node voltages of input(s) 2, 0"), std::string::npos) << out.str();
  args.voltage_inputs = {3};
  EXPECT_THROW(cli::run_solve(args, out, err), cli::InputError);
  args.voltage_inputs = {0};
  args.voltages.clear();
  EXPECT_THROW(cli::run_solve(args, out, err), cli::InputError);
}

TEST_F(Commands, PerRowResistancesFromNpyAndBadValues) {
  cli::write_npy_matrix(path("G.npy"), Eigen::MatrixXd::Constant(3, 2, 1e-4));
  cli::write_npy_matrix(path("V.npy"), Eigen::MatrixXd::Constant(2, 3, 0.1));
  cli::write_npy_vector(path("rs.npy"), Eigen::Vector3d(10, -4, 10));
  cli::SolveArgs args;
  args.tile.conductance = path("G.npy");
  args.tile.input = path("V.npy");
  args.tile.r_source = path("rs.npy");
  args.format = "none";
  std::ostringstream out, err;
  try {
    cli::run_solve(args, out, err);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("r_source[1] = -4 ohm: must be >= 0"), std::string::npos)
        << e.what();
  }
  args.tile.r_source = "ten";
  EXPECT_THROW(cli::run_solve(args, out, err), InputError);
  args.tile.r_source = "open";
  args.tile.r_neuron = "50";
  cli::write_npy_matrix(path("G.npy"), Eigen::MatrixXd::Zero(3, 2));
  EXPECT_EQ(cli::run_solve(args, out, err), cli::kExitSolveError);
  EXPECT_NE(err.str().find("floating node"), std::string::npos) << err.str();
}

TEST_F(Commands, ShapeMismatchNamesBothFiles) {
  cli::write_npy_matrix(path("G.npy"), Eigen::MatrixXd::Constant(3, 2, 1e-4));
  cli::write_npy_vector(path("V.npy"), Eigen::Vector2d(0.1, 0.1));
  cli::SolveArgs args;
  args.tile.conductance = path("G.npy");
  args.tile.input = path("V.npy");
  std::ostringstream out, err;
  try {
    cli::run_solve(args, out, err);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("V.npy: input has 2 values"), std::string::npos) << what;
    EXPECT_NE(what.find("has 3 rows"), std::string::npos) << what;
  }
}

TEST_F(Commands, ExportSpiceWritesANetlist) {
  cli::ExportArgs args;
  args.tile.example = true;
  args.output = path("tile.cir");
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_export_spice(args, out, err), cli::kExitOk);
  std::ifstream f(path("tile.cir"));
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("Rn127 b127_127 vg127 100\n"), std::string::npos);
  EXPECT_NE(text.find("Vcol127 vg127 0 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("echo xbarnet-input 3"), std::string::npos);
}

// --r-* options given with --example replace the example's parasitics (they used to be ignored).
TEST_F(Commands, ExampleTakesTheResistancesThatAreGiven) {
  cli::TileArgs a;
  a.example = true;
  const cli::Tile own = cli::load_tile(a);
  EXPECT_EQ(own.xbar.r_wordline(3, 4), 2.5);
  EXPECT_EQ(own.xbar.r_source(0), 100.0);
  a.r_wordline = "0";
  a.r_neuron = "open";
  const cli::Tile changed = cli::load_tile(a);
  EXPECT_EQ(changed.xbar.r_wordline.cwiseAbs().maxCoeff(), 0.0);
  EXPECT_TRUE(std::isinf(changed.xbar.r_neuron(5)));
  EXPECT_EQ(changed.xbar.r_source(0), 100.0);  // not given: the example's own
  EXPECT_EQ(changed.xbar.conductance, own.xbar.conductance);
  a.conductance = path("G.npy");
  EXPECT_THROW(cli::load_tile(a), InputError);
}

// The summary that docs/cli.md shows for the built-in example.
TEST_F(Commands, SummaryOfTheExampleAsTheDocsShowIt) {
  cli::SolveArgs args;
  args.tile.example = true;
  args.format = "none";
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_solve(args, out, err), cli::kExitOk) << err.str();
  const std::string s = out.str();
  EXPECT_NE(s.find("circuit      33025 nodes -> 32768 unknowns (0 0-ohm elements merged, 0 open)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("matrix       nnz(A) 130560, nnz(factor) 604631, fill 7.40x, 3.69e+07 flops"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("backend      cholmod (supernodal, given (nested dissection) ordering)"),
            std::string::npos);
}

// docs/parameters.md is exactly what the code declares (regenerate: xbarnet params --markdown).
TEST(Docs, ParameterTablesAreTheDeclarations) {
  std::ifstream f(fs::path(XBARNET_SOURCE_DIR) / "docs" / "parameters.md");
  ASSERT_TRUE(f) << "docs/parameters.md is missing";
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, cli::parameters_markdown())
      << "regenerate with: build/cli/xbarnet params --markdown > docs/parameters.md";
}

}  // namespace
}  // namespace xbarnet
