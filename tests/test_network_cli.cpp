// xbarnet network: a small network on a scratch IDX data set end to end, and every bad input of
// the issue refused with the layer, key or file and the rule.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/dataset.hpp"
#include "cli/network_command.hpp"
#include "cli/npy.hpp"
#include "cli/program.hpp"
#include "networks/crossbar_network.hpp"
#include "temp_dir.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;
using testing::slurp;

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string idx(std::vector<std::uint32_t> dims, const std::vector<std::uint8_t>& values) {
  std::string b{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  b.append(values.begin(), values.end());
  return b;
}

// A data set of n 8x8 images with labels 0..2 (plain IDX files), in `dir`.
void write_dataset(const fs::path& dir, const std::string& split, int n,
                   std::uint8_t bad_label = 0) {
  std::mt19937 rng(static_cast<unsigned>(n));
  std::vector<std::uint8_t> px(static_cast<size_t>(n * 64)), lb(static_cast<size_t>(n));
  for (auto& v : px) v = static_cast<std::uint8_t>(rng() % 256);
  for (int i = 0; i < n; ++i) lb[i] = static_cast<std::uint8_t>(i % 3);
  if (bad_label != 0) lb.back() = bad_label;
  write(dir / (split + "-images-idx3-ubyte"), idx({static_cast<std::uint32_t>(n), 8, 8}, px));
  write(dir / (split + "-labels-idx1-ubyte"), idx({static_cast<std::uint32_t>(n)}, lb));
}

void write_tensor(const fs::path& p, std::vector<std::int64_t> shape, std::mt19937_64& rng) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  for (double& x : v) x = u(rng);
  cli::write_npy(p, shape, v.data());
}

const char* kNetwork = R"([network]
name = "tiny"
input = [1, 8, 8]
classes = 3

[[layer]]
name = "c1"
kind = "conv"
weights = "c1.npy"
padding = 1
activation = "relu"

[[layer]]
name = "p1"
kind = "maxpool"
kernel = 2

[[layer]]
name = "f"
kind = "flatten"

[[layer]]
name = "fc"
kind = "dense"
weights = "fc.npy"
mapping = { array = [32, 32] }

[data]
dir = "data"
calibration_images = 6
batch = 4

[mapping]
array = [16, 16]

[device]
r_lrs = 10e3
r_hrs = 100e3
)";

// A scratch network folder: tiny.toml, its weights and a data set.
fs::path make_network_dir(const std::string& name) {
  const fs::path dir = testing::fresh_scratch_dir(name);
  std::mt19937_64 rng(7);
  write_tensor(dir / "c1.npy", {3, 1, 3, 3}, rng);
  write_tensor(dir / "fc.npy", {3, 48}, rng);
  fs::create_directories(dir / "data");
  write_dataset(dir / "data", "t10k", 10);
  write_dataset(dir / "data", "train", 8);
  write(dir / "tiny.toml", kNetwork);
  return dir;
}

int run(const std::vector<std::string>& args, std::string& out, std::string& err) {
  std::vector<const char*> argv{"xbarnet"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  const int code = cli::run_program(static_cast<int>(argv.size()), argv.data(), o, e);
  out = o.str();
  err = e.str();
  return code;
}

TEST(NetworkCli, RunsATinyNetworkOverAParameterAndWritesTablePlotAndJson) {
  const fs::path dir = make_network_dir("net-run");
  std::string out, err;
  ASSERT_EQ(run({"network", (dir / "tiny.toml").string(), "--vary", "parasitics.r_wordline=0.001,5",
                 "-o", (dir / "out").string()},
                out, err),
            cli::kExitOk)
      << err;
  EXPECT_EQ(err, "");  // no progress line when it is not a terminal
  EXPECT_NE(out.find("10 test images (calibration: 6 training images)"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(slurp(dir / "out" / "tiny.network.json"));
  ASSERT_EQ(j["points"].size(), 2u);
  for (const auto& p : j["points"]) {
    // c1: 9 rows x 6 columns on 16 x 16; fc: 48 rows on 32-row arrays (its own mapping): 2.
    EXPECT_EQ(p["arrays"], 3);
    EXPECT_GE(p["accuracy"].get<double>(), 0.0);
    EXPECT_LE(p["accuracy"].get<double>(), 1.0);
    EXPECT_TRUE(p.contains("ideal_crossbar_accuracy"));
    EXPECT_GT(p["images_per_second"].get<double>(), 0.0);
  }
  EXPECT_EQ(j["test_images"], 10);
  EXPECT_EQ(slurp(dir / "out" / "tiny.network.png").substr(1, 3), "PNG");
  const std::string csv = slurp(dir / "out" / "tiny.network.csv");
  EXPECT_EQ(csv.rfind("parasitics.r_wordline,float_accuracy,", 0), 0u) << csv;
}

TEST(NetworkCli, AProgressLineOnlyWhenAskedFor) {
  const fs::path dir = make_network_dir("net-progress");
  cli::NetworkArgs args;
  args.config = (dir / "tiny.toml").string();
  args.output_dir = (dir / "out").string();
  args.progress = true;  // main() asks for it when standard error is a terminal
  std::ostringstream out, err;
  ASSERT_EQ(cli::run_network(args, out, err), cli::kExitOk) << err.str();
  EXPECT_NE(err.str().find("\rsetup: layers 0/2, tiles 0/3 (c1)"), std::string::npos) << err.str();
  // within a layer, its tiles as they are set up (fc's two, before the layer is done)
  EXPECT_NE(err.str().find("\rsetup: layers 1/2, tiles 3/3 (fc)"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("\rsetup: layers 2/2, tiles 3/3"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("\rimages 10/10"), std::string::npos) << err.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);  // the results stay clean

  // A run that fails once the line is shown clears it first: the error starts on a clean line.
  args.set = {"device.adc_bits=4", "adc.range=fixed", "adc.full_scale=1e-15"};
  std::ostringstream out2, err2;
  try {
    cli::run_network(args, out2, err2);
    ADD_FAILURE() << "an ADC range that clips every read-out was not refused";
  } catch (const cli::InputError& e) {
    EXPECT_NE(
        std::string(e.what()).find("layer 'c1': on the calibration batch: adc range = 'fixed'"),
        std::string::npos)
        << e.what();
  }
  ASSERT_NE(err2.str().find("\rsetup: layers 0/2"), std::string::npos) << err2.str();
  EXPECT_TRUE(err2.str().ends_with("\r\x1b[K")) << err2.str();
}

TEST(NetworkCli, IdealCrossbarsAgreeWithTheFloatNetworkOnTheDataSet) {
  const fs::path dir = make_network_dir("net-ideal");
  cli::NetworkConfig c = cli::load_network_config(dir / "tiny.toml");
  const networks::DataSet test = cli::load_idx_dataset(c.data_dir, "t10k", 0, c.network);
  networks::NetworkOptions o{c.options, 3};
  o.simulation.ideal_only = true;
  // Calibrated on the test images: no DAC clips an input.
  StatusOr<networks::CrossbarNetwork> x =
      networks::CrossbarNetwork::prepare(c.network, o, test.images);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  const networks::Evaluation e = networks::evaluate(x.value(), test).value();
  const networks::Evaluation f = networks::evaluate_float(c.network, test, 5).value();
  EXPECT_EQ(e.predicted, f.predicted);
  EXPECT_EQ(e.correct, f.correct);
}

std::string error_of(const std::vector<std::string>& args) {
  std::string out, err;
  EXPECT_EQ(run(args, out, err), cli::kExitInputError) << out;
  return err;
}

TEST(NetworkCli, BadInputIsRefusedWithTheLayerKeyOrFileAndTheRule) {
  const fs::path dir = make_network_dir("net-bad");
  const std::string cfg = (dir / "tiny.toml").string();
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = kNetwork;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    write(dir / "bad.toml", t);
    return (dir / "bad.toml").string();
  };
  // a missing weight file
  std::string e = error_of({"network", with("\"fc.npy\"", "\"nothere.npy\"")});
  EXPECT_NE(e.find("[layer 3 'fc']"), std::string::npos) << e;
  EXPECT_NE(e.find("nothere.npy"), std::string::npos) << e;
  // a known-wrong weight file: fc's weights in c1's place
  e = error_of({"network", with("weights = \"c1.npy\"", "weights = \"fc.npy\"")});
  EXPECT_NE(e.find("layer 'c1' (conv): weights have shape (3, 48): a conv layer needs"),
            std::string::npos)
      << e;
  // a layer whose input does not match the previous output
  std::mt19937_64 rng(1);
  write_tensor(dir / "fc47.npy", {3, 47}, rng);
  e = error_of({"network", with("\"fc.npy\"", "\"fc47.npy\"")});
  EXPECT_NE(e.find("layer 'fc' (dense): its weights (3, 47) take 47 input values, but layer 'f' "
                   "gives (48)"),
            std::string::npos)
      << e;
  // an unknown key, and a pooling key on a weighted layer
  e = error_of({"network", with("padding = 1", "padding = 1\nkernal = 3")});
  EXPECT_NE(e.find("[layer 0] kernal: unknown key"), std::string::npos) << e;
  e = error_of({"network", with("padding = 1", "padding = 1\nkernel = 3")});
  EXPECT_NE(e.find("[layer 0 'c1'] kernel: is a key of pooling layers only"), std::string::npos)
      << e;
  // an unknown kind on a layer with weights: the kind is named, not its keys
  e = error_of({"network", with("kind = \"conv\"", "kind = \"convolution\"")});
  EXPECT_NE(e.find("[layer 0] kind: 'convolution' is not a layer kind (conv, depthwise"),
            std::string::npos)
      << e;
  // a layer's own mapping that breaks a rule
  e = error_of({"network", with("array = [32, 32]", "array = [32, 1]")});
  EXPECT_NE(e.find("[layer 3 'fc' mapping] array"), std::string::npos) << e;
  // a name that would escape the output directory
  e = error_of({"network", with("name = \"p1\"", "name = \"../p1\"")});
  EXPECT_NE(e.find("is not a plain name"), std::string::npos) << e;
  // a network name that would escape the output directory
  e = error_of({"network", with("name = \"tiny\"", "name = \"../../tiny\"")});
  EXPECT_NE(e.find("[network] name: '../../tiny' is not a plain name"), std::string::npos) << e;
  // no [network] table
  write(dir / "none.toml", "[[layer]]\nkind = \"relu\"\n");
  e = error_of({"network", (dir / "none.toml").string()});
  EXPECT_NE(e.find("no [network] table"), std::string::npos) << e;

  // labels out of range
  write_dataset(dir / "data", "t10k", 10, 7);
  e = error_of({"network", cfg, "-o", (dir / "out").string()});
  EXPECT_NE(e.find("t10k-images-idx3-ubyte"), std::string::npos) << e;
  EXPECT_NE(e.find("label 7 of image 9 is outside 0 .. 2 (the network's 3 classes)"),
            std::string::npos)
      << e;
  // a data set file that is not IDX
  cli::write_npy(dir / "data" / "t10k-labels-idx1-ubyte", {2}, std::vector<double>{1, 2}.data());
  e = error_of({"network", cfg, "-o", (dir / "out").string()});
  EXPECT_NE(e.find("t10k-labels-idx1-ubyte: not an IDX file"), std::string::npos) << e;
  // a missing data set: says how to install it
  e = error_of({"network", cfg, "--set", "data.dir=" + (dir / "nowhere").string()});
  EXPECT_NE(e.find("apt-get install dataset-fashion-mnist"), std::string::npos) << e;
  // an unknown --set table, and no output written by any of the failures
  e = error_of({"network", cfg, "--set", "wires.r=1"});
  EXPECT_NE(e.find("no table [wires]"), std::string::npos) << e;
  // --set values are read by the declared kind and rule, never rounded
  e = error_of({"network", cfg, "--set", "data.images=1.5"});
  EXPECT_NE(e.find("--set data.images: '1.5' is not an integer"), std::string::npos) << e;
  e = error_of({"network", cfg, "--set", "data.dir="});
  EXPECT_NE(e.find("--set 'data.dir=': an empty value"), std::string::npos) << e;
  e = error_of({"network", cfg, "--set", "data.batch=0"});
  EXPECT_NE(e.find("--set data.batch:"), std::string::npos) << e;
  EXPECT_NE(e.find("batch = 0: must be an integer in 1 .."), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "out" / "tiny.network.json"));
}

TEST(NetworkCli, GzippedAndTruncatedDataFiles) {
  const fs::path dir = testing::fresh_scratch_dir("net-gz");
  const std::string bytes = idx({3}, {1, 2, 3});
  write(dir / "plain", bytes);
  EXPECT_EQ(cli::read_maybe_gzipped(dir / "plain", 1 << 20), bytes);
  {  // the same bytes gzip'd (zlib's writer)
    gzFile f = gzopen((dir / "l.gz").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
  }
  EXPECT_NE(slurp(dir / "l.gz"), bytes);
  EXPECT_EQ(cli::read_maybe_gzipped(dir / "l.gz", 1 << 20), bytes);
  const std::string whole = slurp(dir / "l.gz");
  write(dir / "cut.gz", whole.substr(0, whole.size() - 6));  // its trailer cut off
  EXPECT_THROW(cli::read_maybe_gzipped(dir / "cut.gz", 1 << 20), cli::InputError);
  EXPECT_THROW(cli::read_maybe_gzipped(dir / "plain", 4), cli::InputError);  // too large
  EXPECT_THROW(cli::read_maybe_gzipped(dir / "missing", 1 << 20), cli::InputError);
  EXPECT_THROW(cli::read_maybe_gzipped(dir, 1 << 20), cli::InputError);  // a directory
}

// ------------------------------------------------------------------ the committed trained models

const fs::path kModels = fs::path(XBARNET_SOURCE_DIR) / "examples" / "fashion-mnist";

class TrainedModel : public ::testing::TestWithParam<std::string> {};

// The float network (C++) against the logits PyTorch computed in float64 from the same exported
// files (validation/train_fashion_mnist.py, an evaluator that shares no code with xbarnet).
TEST_P(TrainedModel, FloatNetworkMatchesPyTorchsLogits) {
  const fs::path dir = kModels / GetParam();
  cli::NetworkConfig c = cli::load_network_config(dir / "network.toml");
  const networks::DataSet test = cli::load_idx_dataset(kModels / "subset", "t10k", 0, c.network);
  ASSERT_EQ(test.images.dim(0), 200);
  const cli::NpyArray want = cli::read_npy(dir / "reference_logits.npy");
  ASSERT_EQ(want.shape, (std::vector<std::int64_t>{200, 10}));
  StatusOr<networks::Tensor> got = networks::float_forward(c.network, test.images);
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  double scale = 0.0, worst = 0.0;
  for (size_t i = 0; i < want.data.size(); ++i) {
    scale = std::max(scale, std::abs(want.data[i]));
    worst = std::max(worst, std::abs(got.value().data[i] - want.data[i]));
  }
  EXPECT_LT(worst, 1e-9 * scale) << "largest |logit| " << scale;
}

// Ideal crossbars with an ideal ADC, calibrated on training images as the command does, give the
// float network's predictions on the committed test subset.
TEST_P(TrainedModel, IdealCrossbarsGiveTheFloatPredictions) {
  const fs::path dir = kModels / GetParam();
  cli::NetworkConfig c = cli::load_network_config(dir / "network.toml");
  const networks::DataSet test = cli::load_idx_dataset(kModels / "subset", "t10k", 0, c.network);
  const networks::DataSet cal = cli::load_idx_dataset(kModels / "subset", "train", 0, c.network);
  networks::NetworkOptions o{c.options, 50};
  o.simulation.ideal_only = true;
  o.simulation.threads = 2;
  StatusOr<networks::CrossbarNetwork> x =
      networks::CrossbarNetwork::prepare(c.network, o, cal.images);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  const networks::Evaluation e = networks::evaluate(x.value(), test).value();
  const networks::Evaluation f = networks::evaluate_float(c.network, test, 64).value();
  EXPECT_EQ(e.predicted, f.predicted);
}

INSTANTIATE_TEST_SUITE_P(FashionMnist, TrainedModel,
                         ::testing::Values("cnn-3d", "cnn-2d1d", "cnn-mixed", "cnn-ternary"));

}  // namespace
}  // namespace xbarnet
