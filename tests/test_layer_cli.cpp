#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/layer_commands.hpp"
#include "cli/npy.hpp"
#include "cli/pictures.hpp"
#include "cli/program.hpp"
#include "cli/sweep.hpp"
#include "solver/crossbar_system.hpp"
#include "temp_dir.hpp"
#include "validation/spice_check.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;

const fs::path kExample = fs::path(XBARNET_SOURCE_DIR) / "examples" / "default" / "layer.toml";

fs::path temp_dir(const std::string& name) { return testing::fresh_scratch_dir(name); }

using testing::slurp;

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(LayerCli, SimulateTheDefaultExample) {
  const fs::path dir = temp_dir("simulate");
  cli::SimulateArgs args;
  args.config = kExample.string();
  args.output_dir = dir.string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
  const cli::NpyArray sim = cli::read_npy(dir / "conv.simulated.npy");
  const cli::NpyArray ideal = cli::read_npy(dir / "conv.ideal.npy");
  EXPECT_EQ(sim.shape, (std::vector<std::int64_t>{4, 32, 16, 16}));
  EXPECT_EQ(ideal.shape, sim.shape);
  EXPECT_EQ(slurp(dir / "conv.ir_drop.png").substr(1, 3), "PNG");
  const auto report = nlohmann::json::parse(slurp(dir / "report.json"));
  const auto& layer = report["layers"][0];
  EXPECT_EQ(layer["mapping"]["arrays"], 2);  // 144 rows on 128-row arrays: 2 row tiles
  // The figures docs/mapping.md quotes (walk-through), to 1e-3 relative.
  EXPECT_NEAR(layer["error"]["relative_rmse"].get<double>(), 0.0511931, 0.0511931e-3);
  EXPECT_NEAR(layer["error"]["max_relative"].get<double>(), 0.0616497, 0.0616497e-3);
  EXPECT_NEAR(layer["ir_drop"]["worst_fraction_of_v_read"].get<double>(), 0.0605478, 0.0605478e-3);
  EXPECT_NEAR(layer["ir_drop"]["mean_fraction_of_v_read"].get<double>(), 0.0296158, 0.0296158e-3);
  const std::vector<double> by_column = layer["error"]["by_column"];
  auto mean = [&](int lo, int hi) {
    double s = 0.0;
    for (int j = lo; j < hi; ++j) s += by_column[j];
    return s / (hi - lo);
  };
  EXPECT_NEAR(mean(0, 16), 0.0309915, 0.0309915e-3);   // "3.1 % in columns 0-15"
  EXPECT_NEAR(mean(48, 64), 0.0437575, 0.0437575e-3);  // "4.4 % in columns 48-63"
  EXPECT_NE(out.str().find("IR drop"), std::string::npos);
  // Health: both tiles solved to rounding, and T agrees with the IR-drop solve.
  const double check = layer["solver"]["worst_transfer_check"];
  const double residual = layer["solver"]["worst_relative_residual"];
  EXPECT_GT(check, 0.0);
  EXPECT_LT(check, 1e-12);
  EXPECT_GT(residual, 0.0);
  EXPECT_LT(residual, 1e-14);
  EXPECT_EQ(layer["solver"]["backend"], "cholmod");
  EXPECT_NE(out.str().find("solver       cholmod backend, ordering nd"), std::string::npos);
  for (const auto& tile : layer["tiles"]) {
    EXPECT_LT(tile["transfer_check"].get<double>(), 1e-12);
    EXPECT_NE(tile["method"].get<std::string>().find("Schur complement onto 256"),
              std::string::npos);
  }
  EXPECT_NEAR(layer["mapping"]["utilisation"].get<double>(), 9216.0 / 32768.0, 1e-15);  // 28.1 %
}

TEST(LayerCli, InputSplittingIsReportedNextToThePartialSumBaseline) {
  const fs::path dir = temp_dir("split");
  std::string text = slurp(kExample);
  text.replace(text.find("scheme = \"im2col\""), 17, "scheme = \"split\" ");
  text.replace(text.find("adc_bits = 0"), 12, "adc_bits = 1");
  for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
    fs::copy_file(kExample.parent_path() / f, dir / f);
  }
  write(dir / "split.toml", text);
  cli::SimulateArgs args;
  args.config = (dir / "split.toml").string();
  args.output_dir = (dir / "out").string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
  const auto report = nlohmann::json::parse(slurp(dir / "out" / "report.json"));
  const auto& layer = report["layers"][0];
  EXPECT_EQ(layer["mapping"]["scheme"], "split");
  EXPECT_EQ(layer["mapping"]["row_groups"], 2);  // 144 rows = 2 groups of 72
  const auto& base = layer["partial_sum_baseline"];
  EXPECT_EQ(base["mapping"]["scheme"], "im2col");
  EXPECT_EQ(base["device"]["adc_bits"], 8);
  // Same conversions, 2^8 / 2^1 = 128 times the ADC cost.
  EXPECT_DOUBLE_EQ(base["adc_cost_E1"].get<double>() / layer["adc_cost_E1"].get<double>(), 128.0);
  // docs/mapping.md: "149 % vs 5.21 % relative RMSE" (ADC ranges from the calibration batch).
  EXPECT_NEAR(layer["error"]["relative_rmse"].get<double>(), 1.494236, 1.494236e-3);
  EXPECT_NEAR(base["error"]["relative_rmse"].get<double>(), 0.0521157, 0.0521157e-3);
  // Flash energy: (2^8 - 1) / (2^1 - 1) = 255 times per conversion, the same conversions.
  EXPECT_NEAR(base["energy_ratio_to_split"].get<double>(), 255.0, 1e-9);
}

// A dense layer under scheme = "subimage" is mapped im2col, and the text report says so; an
// ideal split ADC has no cost and no cost ratio (not "0x").
TEST(LayerCli, NotesAndIdealCostsReachTheTextReport) {
  const fs::path dir = temp_dir("notes");
  cli::write_npy_matrix(dir / "w.npy", Eigen::MatrixXd::Constant(4, 6, 0.5));
  cli::write_npy_matrix(dir / "x.npy", Eigen::MatrixXd::Constant(2, 6, 1.0));
  const std::string layer =
      "[[layer]]\nname = \"fc\"\nkind = \"dense\"\nweights = \"w.npy\"\ninput = \"x.npy\"\n";
  write(dir / "a.toml", layer + "[mapping]\nscheme = \"subimage\"\narray = [4, 8]\n");
  cli::SimulateArgs args;
  args.config = (dir / "a.toml").string();
  args.output_dir = (dir / "a").string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
  EXPECT_NE(slurp(dir / "a" / "report.txt")
                .find("note         sub-image partitioning does not apply to a dense layer"),
            std::string::npos);
  write(dir / "b.toml", layer + "[mapping]\nscheme = \"split\"\narray = [4, 8]\n");
  args.config = (dir / "b.toml").string();
  args.output_dir = (dir / "b").string();
  ASSERT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
  const std::string text = slurp(dir / "b" / "report.txt");
  EXPECT_NE(text.find("(no cost ratio: an ideal ADC has no cost to compare)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find(" 0x "), std::string::npos) << text;
  EXPECT_EQ(text.find("(0x"), std::string::npos) << text;
  const auto report = nlohmann::json::parse(slurp(dir / "b" / "report.json"));
  EXPECT_TRUE(report["layers"][0]["adc_cost_E1"].is_null());
  EXPECT_TRUE(report["layers"][0]["partial_sum_baseline"]["cost_ratio_to_split"].is_null());
}

TEST(LayerCli, CompareWritesATableAndAPlot) {
  const fs::path dir = temp_dir("compare");
  cli::CompareArgs args;
  args.config = kExample.string();
  args.arrays = {64, 128, 256};
  args.output_dir = dir.string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_compare(args, out, err), cli::kExitOk) << err.str();
  const auto report = nlohmann::json::parse(slurp(dir / "compare.json"));
  ASSERT_EQ(report.size(), 3u);
  EXPECT_NEAR(report[2]["error"]["relative_rmse"].get<double>(), 0.159809, 0.159809e-3);
  EXPECT_NEAR(report[2]["error"]["max_relative"].get<double>(), 0.172770, 0.172770e-3);
  EXPECT_NEAR(report[2]["ir_drop"]["worst_fraction_of_v_read"].get<double>(), 0.147184,
              0.147184e-3);
  EXPECT_NEAR(report[1]["error"]["max_relative"].get<double>(), 0.0616497, 0.0616497e-3);
  EXPECT_NEAR(report[1]["ir_drop"]["worst_fraction_of_v_read"].get<double>(), 0.0605478,
              0.0605478e-3);
  // Utilisation: 75 %, 28.1 %, 14.1 % (the 9216 used cells of the 144 x 64 lowered layer).
  EXPECT_NEAR(report[0]["mapping"]["utilisation"].get<double>(), 9216.0 / (3 * 64 * 64), 1e-15);
  EXPECT_NEAR(report[2]["mapping"]["utilisation"].get<double>(), 9216.0 / (256 * 256), 1e-15);
  EXPECT_EQ(report[0]["mapping"]["arrays"], 3);  // 144 rows / 64 = 3 row tiles, 32 outputs fit
  EXPECT_EQ(report[1]["mapping"]["arrays"], 2);
  // The compare table of docs/mapping.md, to 1e-3 relative (64 and 128; 256 is the same code).
  EXPECT_NEAR(report[0]["error"]["relative_rmse"].get<double>(), 0.0189293, 0.0189293e-3);
  EXPECT_NEAR(report[0]["error"]["max_relative"].get<double>(), 0.0200169, 0.0200169e-3);
  EXPECT_NEAR(report[0]["ir_drop"]["worst_fraction_of_v_read"].get<double>(), 0.0226013,
              0.0226013e-3);
  EXPECT_NEAR(report[1]["error"]["relative_rmse"].get<double>(), 0.0511931, 0.0511931e-3);
  EXPECT_NE(slurp(dir / "conv.compare.svg").find("<svg"), std::string::npos);
}

TEST(LayerCli, MapCountsVgg16) {
  cli::MapArgs args;
  args.config = (fs::path(XBARNET_SOURCE_DIR) / "examples" / "vgg16-map.toml").string();
  args.arrays = {128};
  args.report = (temp_dir("map") / "map.json").string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_map(args, out, err), cli::kExitOk);
  const auto report = nlohmann::json::parse(slurp(args.report));
  ASSERT_EQ(report.size(), 16u);
  // conv1_2: 576 rows -> 5 row tiles, 64 outputs = 128 columns -> 1 column tile.
  EXPECT_EQ(report[1]["mapping"]["arrays"], 5);
  // fc6: 25088 / 128 = 196 row tiles x 4096 / 64 = 64 column tiles.
  EXPECT_EQ(report[13]["mapping"]["arrays"], 196 * 64);
  EXPECT_NE(out.str().find("total at 128x128: 16902 unit arrays"), std::string::npos) << out.str();
  // The totals docs/mapping.md quotes, at both sizes and both schemes.
  args.arrays = {128, 256};
  std::ostringstream out2;
  ASSERT_EQ(cli::run_map(args, out2, err), cli::kExitOk);
  EXPECT_NE(out2.str().find("total at 128x128: 16902 unit arrays; with every 3D-kernel conv as "
                            "2D+1D: 15579"),
            std::string::npos);
  EXPECT_NE(out2.str().find("total at 256x256: 4230 unit arrays; with every 3D-kernel conv as "
                            "2D+1D: 3972"),
            std::string::npos);
  const fs::path dir = temp_dir("map-subimage");
  std::string sub = slurp(args.config);
  sub.replace(sub.find("scheme = \"im2col\""), 17, "scheme = \"subimage\"");
  write(dir / "vgg.toml", sub);
  args.config = (dir / "vgg.toml").string();
  std::ostringstream out3;
  ASSERT_EQ(cli::run_map(args, out3, err), cli::kExitOk);
  EXPECT_NE(out3.str().find("total at 128x128: 1965696 unit arrays; with every 3D-kernel conv as "
                            "2D+1D: 576310"),
            std::string::npos)
      << out3.str();
  EXPECT_NE(out3.str().find("total at 256x256: 607968 unit arrays; with every 3D-kernel conv as "
                            "2D+1D: 211449"),
            std::string::npos);
}

// A circuit that cannot be solved inside a layer run exits like `solve` (3), a bad value with 2.
TEST(LayerCli, SolverFailuresAndBadValuesHaveTheirOwnExitCodes) {
  EXPECT_THROW(cli::throw_status("layer 'x'", Status(StatusCode::kFloatingNode, "node w0_0")),
               cli::SolveError);
  EXPECT_THROW(cli::throw_status("layer 'x'", Status(StatusCode::kNoConvergence, "50 it")),
               cli::SolveError);
  EXPECT_THROW(cli::throw_status("layer 'x'", Status::invalid_argument("tile = 9")),
               cli::InputError);
  try {
    cli::throw_status("layer 'conv'", Status(StatusCode::kNotPositiveDefinite, "pivot 3"));
  } catch (const cli::SolveError& e) {
    EXPECT_STREQ(e.what(), "layer 'conv': not positive definite: pivot 3");
  }
}

std::string load_error(const fs::path& p, bool need_values) {
  try {
    cli::load_config(p, need_values);
  } catch (const cli::InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(LayerCli, ConfigErrorsNameFileTableKeyAndRule) {
  const fs::path dir = temp_dir("config");
  const std::string layer = "[[layer]]\nkind = \"dense\"\nin_channels = 10\nout_channels = 4\n";
  write(dir / "a.toml", layer + "[device]\nr_lsr = 5e3\n");
  EXPECT_NE(load_error(dir / "a.toml", false).find("[device] r_lsr: unknown key"),
            std::string::npos);
  write(dir / "b.toml", layer + "[device]\nr_lrs = 5e5\nr_hrs = 1e5\n");
  EXPECT_NE(load_error(dir / "b.toml", false)
                .find("[device] r_hrs = 100000 ohm: must be finite and in 0.001 .. 1e+18 and > "
                      "r_lrs (= 500000 ohm)"),
            std::string::npos);
  write(dir / "c.toml", layer + "[mapping]\nscheme = \"tiles\"\n");
  EXPECT_NE(load_error(dir / "c.toml", false).find("scheme = 'tiles': must be"), std::string::npos);
  write(dir / "d.toml", layer);
  EXPECT_NE(load_error(dir / "d.toml", true).find("weights: is required to simulate"),
            std::string::npos);
  write(dir / "e.toml", "[[layer]\nkind = 3\n");
  EXPECT_NE(load_error(dir / "e.toml", false).find("e.toml:1:"), std::string::npos);
  write(dir / "f.toml", layer + "[parasitics]\nr_source = -1.0\n");
  EXPECT_NE(load_error(dir / "f.toml", false)
                .find("f.toml: [parasitics] r_source = -1 ohm: must be >= 0 or +inf (0 = ideal "
                      "element, +inf = open)"),
            std::string::npos);
  // Integers are range-checked as 64-bit values before they are narrowed.
  write(dir / "h.toml", layer + "[device]\nadc_bits = 4294967297\n");
  EXPECT_NE(load_error(dir / "h.toml", false)
                .find("h.toml: [device] adc_bits = 4294967297 bit: must be an integer in 0 .. 16 "
                      "(0 = ideal, 1 = sense amplifier)"),
            std::string::npos)
      << load_error(dir / "h.toml", false);
  write(dir / "i.toml", layer + "[mapping]\narray = [128, 1]\n");
  EXPECT_NE(load_error(dir / "i.toml", false)
                .find("[mapping] array = [128, 1] cells: must be [rows, cols] with rows in 1 .. "
                      "65536 and cols in 2 .. 65536"),
            std::string::npos)
      << load_error(dir / "i.toml", false);
  // Shapes far beyond any network are refused before any count can overflow.
  write(dir / "k.toml",
        "[[layer]]\nkind = \"dense\"\nin_channels = 9223372036854775807\nout_channels = 4\n");
  EXPECT_NE(load_error(dir / "k.toml", false)
                .find("in_channels = 9223372036854775807: must be in 1 .. 16777216"),
            std::string::npos)
      << load_error(dir / "k.toml", false);
  write(dir / "l.toml",
        "[[layer]]\nkind = \"conv\"\nin_channels = 3\nout_channels = 4\nkernel = 3\n"
        "padding = 2147483648\ninput_size = [8, 8]\n");
  EXPECT_NE(load_error(dir / "l.toml", false).find("padding = 2147483648: must be <= 1048576"),
            std::string::npos)
      << load_error(dir / "l.toml", false);
  write(dir / "j.toml", layer + "[simulation]\nthreads = 2.5\n");
  EXPECT_NE(
      load_error(dir / "j.toml", false).find("[simulation] threads = 2.5: must be an integer"),
      std::string::npos)
      << load_error(dir / "j.toml", false);
  write(dir / "g.toml", layer + "[parasitics]\nr_neuron = inf\n");
  EXPECT_NE(load_error(dir / "g.toml", false).find("r_neuron = inf ohm"), std::string::npos);
}

// A layer whose lines are too small to tell from a short is simulated as with ideal lines (it
// used to write all-zero activations and report 0 % error), and says so; a read voltage too
// small to carry currents is refused.
TEST(LayerCli, TinyResistancesAndVoltagesInALayer) {
  cli::Config c = cli::load_config(kExample, true);
  c.options.ir_drop = false;
  mapping::SimulationOptions tiny = c.options, ideal = c.options;
  tiny.parasitics.r_bitline = 5e-324;
  ideal.parasitics.r_bitline = 0.0;
  auto a = mapping::simulate(*c.layers[0].layer, *c.layers[0].input, tiny);
  auto b = mapping::simulate(*c.layers[0].layer, *c.layers[0].input, ideal);
  ASSERT_TRUE(a.is_ok() && b.is_ok()) << a.status().to_string();
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.value().simulated.data.size(); ++i) {
    worst = std::max(worst, std::abs(a.value().simulated.data[i] - b.value().simulated.data[i]));
    scale = std::max(scale, std::abs(b.value().simulated.data[i]));
  }
  EXPECT_LT(worst, 1e-12 * scale);
  EXPECT_GT(a.value().report.relative_rmse, 0.01);  // the other parasitics still cost
  EXPECT_EQ(a.value().report.tiny_shorts, 2 * 127 * 128);
  const std::string text = [&] {
    const fs::path dir = temp_dir("tiny");
    std::string t = slurp(kExample);
    t.replace(t.find("r_bitline = 2.5"), 15, "r_bitline = 5e-324");
    for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
      fs::copy_file(kExample.parent_path() / f, dir / f);
    }
    write(dir / "tiny.toml", t);
    cli::SimulateArgs args;
    args.config = (dir / "tiny.toml").string();
    args.output_dir = (dir / "out").string();
    std::ostringstream out, err;
    EXPECT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
    return out.str();
  }();
  EXPECT_NE(text.find("merged       32512 resistance(s)"), std::string::npos) << text;
  mapping::SimulationOptions low = c.options;
  low.device.v_read = 5e-324;
  EXPECT_NE(mapping::simulate(*c.layers[0].layer, *c.layers[0].input, low)
                .status()
                .message()
                .find("v_read = 4.94066e-324 V: must be finite and in 1e-06 .. 1000"),
            std::string::npos);
}

// Layer names name output files: plain components only, and unique.
TEST(LayerCli, LayerNamesCannotEscapeTheOutputDirectory) {
  const fs::path dir = temp_dir("names");
  const std::string layer = "[[layer]]\nkind = \"dense\"\nin_channels = 10\nout_channels = 4\n";
  for (const char* bad : {"../x", "/abs", "", ".hidden", "a/b", "a\\\\b"}) {
    write(dir / "n.toml", layer + fmt::format("name = \"{}\"\n", bad));
    EXPECT_NE(load_error(dir / "n.toml", false).find("is not a plain name"), std::string::npos)
        << bad << ": " << load_error(dir / "n.toml", false);
  }
  write(dir / "ok.toml", layer + "name = \"conv1_2.a-b\"\n");
  EXPECT_EQ(load_error(dir / "ok.toml", false), "no error");
  write(dir / "twice.toml", layer + "name = \"fc\"\n" + layer + "name = \"fc\"\n");
  EXPECT_NE(load_error(dir / "twice.toml", false)
                .find("[layer 1] name: 'fc' is already the name of layer 0"),
            std::string::npos)
      << load_error(dir / "twice.toml", false);
}

// The exported tile of a mapped layer is the circuit xbarnet simulates: ngspice agrees with the
// transfer matrix applied to the tile's input vector.
TEST(LayerCli, ExportedMappedTileAgreesWithNgspice) {
  if (!validation::ngspice_available()) GTEST_SKIP() << "ngspice not installed";
  const fs::path dir = temp_dir("export-tile");
  // A smaller array keeps ngspice fast: 16 x 16 arrays, tile 3, vector 17.
  const std::string text = slurp(kExample);
  std::string small = text;
  small.replace(small.find("array = [128, 128]"), 18, "array = [16, 16]  ");
  for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
    fs::copy_file(kExample.parent_path() / f, dir / f);
  }
  write(dir / "layer.toml", small);
  const cli::Config c = cli::load_config(dir / "layer.toml", true);
  auto tc = mapping::tile_circuit(*c.layers[0].layer, *c.layers[0].input, c.options, 3, 17);
  ASSERT_TRUE(tc.is_ok()) << tc.status().to_string();
  auto spice = validation::run_ngspice(tc.value().xbar, tc.value().inputs, dir / "tile.cir");
  ASSERT_TRUE(spice.is_ok()) << spice.status().to_string();
  auto t = solver::transfer_matrix(tc.value().xbar);
  ASSERT_TRUE(t.is_ok());
  const Eigen::MatrixXd ours = tc.value().inputs * t.value().transfer.t.transpose();
  EXPECT_LE(validation::max_relative_difference(ours, spice.value()), 1e-9);

  cli::ExportTileArgs args;
  args.config = (dir / "layer.toml").string();
  args.tile = 3;
  args.vector = 17;
  args.output = (dir / "cli-tile.cir").string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_export_tile(args, out, err), cli::kExitOk) << err.str();
  EXPECT_NE(slurp(dir / "cli-tile.cir").find("tile 3 of layer 'conv'"), std::string::npos);
}

// The example in a scratch directory with its data, and `extra` appended to the config.
fs::path example_copy(const fs::path& dir, const std::string& extra) {
  for (const char* f : {"weights.npy", "bias.npy", "input.npy", "calibration.npy"}) {
    fs::copy_file(kExample.parent_path() / f, dir / f);
  }
  std::string text = slurp(kExample);
  text.insert(text.find("[output]"), extra);
  write(dir / "layer.toml", text);
  return dir / "layer.toml";
}

// Sets the example config's parasitic resistances `keys` ("r_source = 10.0", as the file has
// them) to 0.
void zero_parasitics(const fs::path& config, std::initializer_list<const char*> keys) {
  std::string text = slurp(config);
  for (const char* key : keys) {
    const std::string k(key);
    text.replace(text.find(k), k.size(), k.substr(0, k.find('=') + 2) + "0.0");
  }
  write(config, text);
}

cli::SweepArgs sweep_args(const fs::path& config, const fs::path& out,
                          std::vector<std::string> vary) {
  cli::SweepArgs args;
  args.config = config.string();
  args.output_dir = out.string();
  args.vary = std::move(vary);
  return args;
}

TEST(LayerCli, EveryCorrectionImprovesTheExampleLayer) {
  const fs::path dir = temp_dir("corrections");
  const fs::path config = example_copy(dir, "");
  const cli::SweepArgs args = sweep_args(
      config, dir / "out",
      {"correction.scheme=none,column_gain,predistortion,exact_compensation,input_scaling",
       "parasitics.r_wordline=0,2.5"});
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_sweep(args, out, err), cli::kExitOk) << err.str();
  const auto report = nlohmann::json::parse(slurp(dir / "out" / "conv.sweep.json"));
  ASSERT_EQ(report["points"].size(), 10u);
  std::map<std::string, double> error;
  for (const auto& p : report["points"]) {
    error[p["correction.scheme"].get<std::string>() + "@" +
          p["parasitics.r_wordline"].get<std::string>()] = p["relative_rmse"].get<double>();
  }
  // The uncorrected points report the tiles' T error too (the others' "before").
  for (const auto& p : report["points"]) {
    if (p["correction.scheme"] == "none") {
      EXPECT_GT(p["correction_tile_error_before"].get<double>(), 0.01);
      EXPECT_EQ(p["correction_tile_error_after"], p["correction_tile_error_before"]);
    }
  }
  for (const char* rw : {"0", "2.5"}) {
    const double before = error[fmt::format("none@{}", rw)];
    EXPECT_GT(before, 0.01) << rw;  // bit-line, source and neuron resistance remain
    // Every scheme at least halves the output error of the example (docs/model.md quotes them).
    for (const char* scheme :
         {"column_gain", "predistortion", "exact_compensation", "input_scaling"}) {
      EXPECT_LT(error[fmt::format("{}@{}", scheme, rw)], 0.5 * before) << scheme << " " << rw;
    }
  }
  EXPECT_TRUE(fs::exists(dir / "out" / "conv.sweep.csv"));
  EXPECT_EQ(slurp(dir / "out" / "conv.sweep.png").substr(1, 3), "PNG");
  EXPECT_FALSE(fs::exists(dir / "out" / "conv.sweep.energy.png"));  // ideal ADC: no energy
}

TEST(LayerCli, NoCorrectionMakesAParasiticFreeLayerWorse) {
  const fs::path dir = temp_dir("corrections-ideal");
  const fs::path config = example_copy(dir, "");
  const cli::SweepArgs args = sweep_args(
      config, dir / "out",
      {"correction.scheme=none,column_gain,predistortion,exact_compensation,input_scaling",
       "parasitics.r_source=0"});
  zero_parasitics(config, {"r_wordline = 2.5", "r_bitline = 2.5", "r_neuron = 10.0"});
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_sweep(args, out, err), cli::kExitOk) << err.str();
  const auto report = nlohmann::json::parse(slurp(dir / "out" / "conv.sweep.json"));
  for (const auto& p : report["points"]) {
    EXPECT_LT(p["relative_rmse"].get<double>(), 1e-12) << p["correction.scheme"];
  }
}

TEST(LayerCli, SweepTablePlotsAndTrends) {
  const fs::path dir = temp_dir("sweep");
  const fs::path config = example_copy(dir, "");
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_sweep(sweep_args(config, dir / "out", {"device.adc_bits=2,4,8"}), out, err),
            cli::kExitOk)
      << err.str();
  const std::string csv = slurp(dir / "out" / "conv.sweep.csv");
  EXPECT_EQ(csv.substr(0, csv.find(',')), "device.adc_bits");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_EQ(slurp(dir / "out" / "conv.sweep.energy.png").substr(1, 3), "PNG");
  const auto report = nlohmann::json::parse(slurp(dir / "out" / "conv.sweep.json"));
  const auto& pts = report["points"];
  // More bits: less error, more energy (flash: 3, 15, 255 comparators per conversion).
  EXPECT_GT(pts[0]["relative_rmse"].get<double>(), pts[2]["relative_rmse"].get<double>());
  EXPECT_NEAR(pts[2]["adc_energy_J"].get<double>() / pts[0]["adc_energy_J"].get<double>(),
              255.0 / 3.0, 1e-9);
  // The error grows toward the far column (word-line resistance alone).
  zero_parasitics(config, {"r_source = 10.0", "r_bitline = 2.5", "r_neuron = 10.0"});
  ASSERT_EQ(cli::run_sweep(sweep_args(config, dir / "out2", {"parasitics.r_wordline=3"}), out, err),
            cli::kExitOk)
      << err.str();
  const auto wl = nlohmann::json::parse(slurp(dir / "out2" / "conv.sweep.json"))["points"][0];
  EXPECT_GT(wl["far_column_error"].get<double>(), 2.0 * wl["near_column_error"].get<double>());
}

TEST(LayerCli, BadSweepsAndDeviceValuesAreRefusedAndWriteNothing) {
  const fs::path dir = temp_dir("sweep-bad");
  const fs::path config = example_copy(dir, "");
  const auto run = [&](std::vector<std::string> vary) {
    std::ostringstream out, err;
    try {
      cli::run_sweep(sweep_args(config, dir / "out", std::move(vary)), out, err);
    } catch (const cli::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(run({"variation.stuck_lrs_rate=0.1,1.5"})
                .find("stuck_lrs_rate = 1.5: must be finite and in 0 .. 1"),
            std::string::npos)
      << run({"variation.stuck_lrs_rate=0.1,1.5"});
  EXPECT_NE(run({"variation.sigma_lrs=-0.1"}).find("sigma_lrs = -0.1"), std::string::npos);
  EXPECT_NE(run({"device.adc_bits=17"}).find("adc_bits = 17 bit: must be an integer in 0 .. 16"),
            std::string::npos);
  EXPECT_NE(run({"parasitics.r_wire=1"}).find("[parasitics] has no parameter 'r_wire'"),
            std::string::npos);
  EXPECT_NE(run({"nonsense"}).find("must be table.key=v1,v2"), std::string::npos);
  EXPECT_NE(run({"correction.scheme=magic"}).find("scheme = 'magic': must be one of"),
            std::string::npos);
  EXPECT_NE(run({"a.b=1", "c.d=2", "e.f=3"}).find("one or two parameters"), std::string::npos);
  EXPECT_NE(run({"parasitics.r_wordline=1,2", "parasitics.r_wordline=3"}).find("given twice"),
            std::string::npos);
  // Both stuck rates in range but together above 1.
  std::string text = slurp(config);
  text.insert(text.find("[output]"), "[variation]\nstuck_lrs_rate = 0.6\nstuck_hrs_rate = 0.6\n\n");
  write(dir / "stuck.toml", text);
  cli::SimulateArgs sim;
  sim.config = (dir / "stuck.toml").string();
  sim.output_dir = (dir / "out").string();
  std::ostringstream out, err;
  try {
    cli::run_simulate(sim, out, err);
    ADD_FAILURE() << "stuck rates summing to 1.2 were accepted";
  } catch (const cli::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("stuck_lrs_rate + stuck_hrs_rate = 0.6 + 0.6 = 1.2"),
              std::string::npos)
        << e.what();
  }
  // A fixed ADC range that clips every output: refused, and no output written.
  text = slurp(config);
  text.replace(text.find("adc_bits = 0"), 12, "adc_bits = 4");
  text.replace(text.find("range = \"calibrated\""), 20, "range = \"fixed\"\nfull_scale = 1e-15");
  write(dir / "clip.toml", text);
  sim.config = (dir / "clip.toml").string();
  const std::string out_dir = sim.output_dir;
  const std::array<const char*, 5> argv{"xbarnet", "simulate", sim.config.c_str(), "-o",
                                        out_dir.c_str()};
  EXPECT_EQ(cli::run_program(5, argv.data(), out, err), cli::kExitInputError);
  EXPECT_NE(err.str().find("clips every one"), std::string::npos) << err.str();
  EXPECT_FALSE(fs::exists(dir / "out" / "report.json"));
  EXPECT_FALSE(fs::exists(dir / "out" / "conv.sweep.csv"));
}

TEST(LayerCli, TheReferenceColumnsIrDropIsReported) {
  const fs::path dir = temp_dir("reference");
  const fs::path config = example_copy(dir, "");
  std::string text = slurp(config);
  text.replace(text.find("sign = \"differential\""), 21, "sign = \"reference\"");
  write(config, text);
  cli::SimulateArgs args;
  args.config = config.string();
  args.output_dir = (dir / "out").string();
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_simulate(args, out, err), cli::kExitOk) << err.str();
  const auto layer = nlohmann::json::parse(slurp(dir / "out" / "report.json"))["layers"][0];
  const auto& ref = layer["reference_column"];
  // The reference column is the farthest from the drivers: its cells see the largest drop.
  EXPECT_GT(ref["worst_ir_drop_fraction_of_v_read"].get<double>(),
            0.5 * layer["ir_drop"]["worst_fraction_of_v_read"].get<double>());
  EXPECT_GT(ref["current_error"].get<double>(), 0.0);
  EXPECT_NE(out.str().find("reference    column C-1"), std::string::npos);
}

}  // namespace
}  // namespace xbarnet
