// Networks: shapes and their errors, the operations between layers against hand-computed values,
// the float network against a hand computation, ideal crossbars against the float network, batch
// independence, IDX parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "mapping_util.hpp"
#include "networks/crossbar_network.hpp"
#include "networks/idx.hpp"
#include "networks/network.hpp"

namespace xbarnet::networks {
namespace {

using testing::random_tensor;

Tensor tensor(std::vector<std::int64_t> shape, std::vector<double> data) {
  Tensor t;
  t.shape = std::move(shape);
  t.data = std::move(data);
  return t;
}

StepSpec weighted(std::string name, std::string kind, Tensor w, std::int64_t padding = 0,
                  mapping::Activation act = mapping::Activation::kNone) {
  StepSpec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.weights = std::move(w);
  s.padding = padding;
  s.activation = act;
  return s;
}

StepSpec op(std::string name, std::string kind, std::int64_t kernel = 0, std::string from = "") {
  StepSpec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.kernel = kernel;
  s.from = std::move(from);
  return s;
}

// conv 1->4 3x3 (relu) -> maxpool 2 -> depthwise 3x3 -> pointwise 4->4 -> add(pool) -> relu ->
// avgpool 2 -> flatten -> dense 4*3*3 -> 3; 12x12 images.
std::vector<StepSpec> small_net(std::mt19937_64& rng) {
  std::vector<StepSpec> s;
  s.push_back(weighted("c1", "conv", random_tensor(rng, {4, 1, 3, 3}, -0.5, 0.5), 1,
                       mapping::Activation::kRelu));
  s.back().bias = {0.05, -0.02, 0.01, 0.0};
  s.push_back(op("p1", "maxpool", 2));
  s.push_back(weighted("dw", "depthwise", random_tensor(rng, {4, 1, 3, 3}, -0.5, 0.5), 1));
  s.push_back(weighted("pw", "pointwise", random_tensor(rng, {4, 4, 1, 1}, -0.5, 0.5)));
  s.push_back(op("res", "add", 0, "p1"));
  s.push_back(op("r", "relu"));
  s.push_back(op("p2", "avgpool", 2));
  s.push_back(op("f", "flatten"));
  s.push_back(weighted("fc", "dense", random_tensor(rng, {3, 36}, -0.5, 0.5)));
  return s;
}

TEST(Network, ResolvesShapesStepByStep) {
  std::mt19937_64 rng(1);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok()) << net.status().message();
  const Network& n = net.value();
  EXPECT_EQ(n.steps[0].out_shape, (std::vector<std::int64_t>{4, 12, 12}));
  EXPECT_EQ(n.steps[1].out_shape, (std::vector<std::int64_t>{4, 6, 6}));
  EXPECT_EQ(n.steps[4].from, 1);
  EXPECT_EQ(n.steps[6].out_shape, (std::vector<std::int64_t>{4, 3, 3}));
  EXPECT_EQ(n.steps[7].out_shape, (std::vector<std::int64_t>{36}));
  EXPECT_EQ(n.weighted_steps(), (std::vector<std::size_t>{0, 2, 3, 8}));
}

void expect_refused(std::vector<StepSpec> steps, const std::string& needle,
                    std::int64_t classes = 3) {
  StatusOr<Network> net = make_network("n", {1, 12, 12}, classes, std::move(steps));
  ASSERT_FALSE(net.is_ok());
  EXPECT_NE(net.status().message().find(needle), std::string::npos) << net.status().message();
}

TEST(Network, RefusesWhatDoesNotFitAndNamesTheLayer) {
  std::mt19937_64 rng(2);
  {  // a dense layer whose inputs are not the previous output's
    auto s = small_net(rng);
    s.back().weights = random_tensor(rng, {3, 35}, -1, 1);
    expect_refused(
        s,
        "layer 'fc' (dense): its weights (3, 35) take 35 input values, but layer 'f' gives (36)");
  }
  {  // a conv layer's channels
    auto s = small_net(rng);
    s[3].weights = random_tensor(rng, {4, 5, 1, 1}, -1, 1);
    expect_refused(s, "layer 'pw' (pointwise): its weights (4, 5, 1, 1) take 5 input channels");
  }
  {  // an add of different shapes
    auto s = small_net(rng);
    s[4].from = "c1";
    expect_refused(s, "layer 'res' (add): 'c1' gives (4, 12, 12)");
  }
  {  // an add from a later (or unknown) layer
    auto s = small_net(rng);
    s[4].from = "fc";
    expect_refused(s, "from = 'fc': no earlier layer");
  }
  {  // dense on images: a flatten is missing
    auto s = small_net(rng);
    s.erase(s.begin() + 7);
    expect_refused(s, "needs a flat input");
  }
  {
    auto s = small_net(rng);
    s[1].kind = "minpool";
    expect_refused(s, "layer 'p1' (minpool): unknown kind");
  }
  {
    auto s = small_net(rng);
    s[6].kernel = 7;
    expect_refused(s, "layer 'p2' (avgpool): kernel = 7");
  }
  {
    auto s = small_net(rng);
    s[5].name = "c1";
    expect_refused(s, "names are unique");
  }
  expect_refused(small_net(rng), "a network of 10 classes ends in (10)", 10);
  {  // a padding that would make an image of 2^26+ values
    auto s = small_net(rng);
    s[0].padding = 1 << 14;
    expect_refused(s, "layer 'c1' (conv): it gives (4, 32778, 32778): more than 67108864 values");
  }
  {  // an input that large (its product would overflow)
    StatusOr<Network> net = make_network("n", {1 << 20, 1 << 20, 1 << 20}, 3, small_net(rng));
    ASSERT_FALSE(net.is_ok());
    EXPECT_NE(net.status().message().find("more than 67108864 values per image"), std::string::npos)
        << net.status().message();
  }
  {
    auto s = small_net(rng);
    s[0].mapping = {{"array", core::Value(std::vector<std::int64_t>{2, 1})}};
    expect_refused(s, "layer 'c1' (conv): mapping:");
  }
}

TEST(Operations, PoolingReluFlattenAddByHand) {
  Step pool;
  pool.kind = StepKind::kMaxPool;
  pool.kernel = 2;
  pool.stride = 2;
  pool.in_shape = {1, 2, 4};
  pool.out_shape = {1, 1, 2};
  const Tensor x = tensor({1, 1, 2, 4}, {1, -2, 3, 4, 5, 6, -7, 0.5});
  EXPECT_EQ(apply_operation(pool, x, nullptr).data, (std::vector<double>{6, 4}));
  pool.kind = StepKind::kAvgPool;
  EXPECT_EQ(apply_operation(pool, x, nullptr).data, (std::vector<double>{2.5, 0.125}));
  Step relu;
  relu.kind = StepKind::kRelu;
  relu.out_shape = {1, 2, 4};
  EXPECT_EQ(apply_operation(relu, x, nullptr).data,
            (std::vector<double>{1, 0, 3, 4, 5, 6, 0, 0.5}));
  Step add;
  add.kind = StepKind::kAdd;
  add.out_shape = {1, 2, 4};
  const Tensor y = tensor({1, 1, 2, 4}, {1, 1, 1, 1, 2, 2, 2, 2});
  EXPECT_EQ(apply_operation(add, x, &y).data, (std::vector<double>{2, -1, 4, 5, 7, 8, -5, 2.5}));
  Step flat;
  flat.kind = StepKind::kFlatten;
  flat.out_shape = {8};
  const Tensor f = apply_operation(flat, x, nullptr);
  EXPECT_EQ(f.shape, (std::vector<std::int64_t>{1, 8}));
  EXPECT_EQ(f.data, x.data);
}

TEST(FloatNetwork, MatchesAHandComputation) {
  // conv 1->1 2x2 (no padding) on a 3x3 image, relu; maxpool 2 (-> 1x1); flatten; dense 1 -> 2.
  std::vector<StepSpec> s;
  s.push_back(
      weighted("c", "conv", tensor({1, 1, 2, 2}, {1, -1, 0.5, 2}), 0, mapping::Activation::kRelu));
  s.back().bias = {-1.0};
  s.push_back(op("p", "maxpool", 2));
  s.push_back(op("f", "flatten"));
  s.push_back(weighted("d", "dense", tensor({2, 1}, {3, -1})));
  s.back().bias = {0.5, 0.25};
  StatusOr<Network> net = make_network("n", {1, 3, 3}, 2, std::move(s));
  ASSERT_TRUE(net.is_ok()) << net.status().message();
  const Tensor img = tensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  // conv outputs: (1-2+2+10)-1 = 10, (2-3+2.5+12)-1 = 12.5, (4-5+3.5+16)-1 = 17.5,
  // (5-6+4+18)-1 = 20; max 20; dense: 3*20+0.5 = 60.5, -20+0.25 = -19.75.
  StatusOr<Tensor> y = float_forward(net.value(), img);
  ASSERT_TRUE(y.is_ok());
  EXPECT_EQ(y.value().shape, (std::vector<std::int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(y.value().data[0], 60.5);
  EXPECT_DOUBLE_EQ(y.value().data[1], -19.75);
  EXPECT_EQ(predictions(y.value()), (std::vector<std::int64_t>{0}));
}

NetworkOptions ideal_options() {
  NetworkOptions o;
  o.simulation.mapping.array = {32, 32};
  o.simulation.ideal_only = true;
  o.simulation.ir_drop = false;
  o.batch = 5;
  return o;
}

TEST(CrossbarNetwork, IdealCrossbarsWithAnIdealAdcGiveTheFloatNetwork) {
  std::mt19937_64 rng(3);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok());
  // Calibrated on the evaluated images themselves: no input beyond a DAC's range (those are
  // clipped, as on a chip).
  const Tensor images = random_tensor(rng, {9, 1, 12, 12}, 0.0, 1.0);
  const Tensor& cal = images;
  for (const char* scheme : {"im2col", "subimage"}) {
    NetworkOptions o = ideal_options();
    ASSERT_TRUE(mapping::mapping_parameters()
                    .set(o.simulation.mapping, "scheme", std::string(scheme))
                    .is_ok());
    StatusOr<CrossbarNetwork> x = CrossbarNetwork::prepare(net.value(), o, cal);
    ASSERT_TRUE(x.is_ok()) << x.status().message();
    StatusOr<CrossbarNetwork::Forward> f = x.value().forward(images, 0);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    const Tensor want = float_forward(net.value(), images).value();
    ASSERT_EQ(f.value().scores.shape, want.shape);
    double scale = 0.0;
    for (double v : want.data) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < want.data.size(); ++i) {
      EXPECT_NEAR(f.value().scores.data[i], want.data[i], 1e-12 * scale) << scheme << " " << i;
    }
    EXPECT_EQ(predictions(f.value().scores), predictions(want));
  }
}

TEST(CrossbarNetwork, ParasiticsChangeTheScoresAndTinyOnesBarely) {
  std::mt19937_64 rng(4);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok());
  const Tensor images = random_tensor(rng, {3, 1, 12, 12}, 0.0, 1.0);
  const Tensor& cal = images;  // no input clipped by a DAC
  const Tensor want = float_forward(net.value(), images).value();
  const auto rel_error = [&](double wire) {
    NetworkOptions o;
    o.simulation.mapping.array = {32, 32};
    o.simulation.ir_drop = false;
    o.simulation.parasitics = {wire, wire, wire, wire};
    o.simulation.device.r_lrs = 10e3;  // a low-resistance device: a visible IR drop
    o.simulation.device.r_hrs = 100e3;
    StatusOr<CrossbarNetwork> x = CrossbarNetwork::prepare(net.value(), o, cal);
    if (!x.is_ok()) {
      ADD_FAILURE() << x.status().message();
      return std::nan("");
    }
    StatusOr<CrossbarNetwork::Forward> f = x.value().forward(images, 0);
    if (!f.is_ok()) {
      ADD_FAILURE() << f.status().message();
      return std::nan("");
    }
    const Tensor& got = f.value().scores;
    double e = 0.0, r = 0.0;
    for (size_t i = 0; i < want.data.size(); ++i) {
      e += std::pow(got.data[i] - want.data[i], 2);
      r += want.data[i] * want.data[i];
    }
    return std::sqrt(e / r);
  };
  const double big = rel_error(5.0), tiny = rel_error(1e-4);
  EXPECT_GT(big, 1e-3);
  EXPECT_LT(tiny, 1e-5);
  EXPECT_LT(tiny, big / 100.0);
}

TEST(CrossbarNetwork, AnImagesScoresDoNotDependOnItsBatch) {
  std::mt19937_64 rng(5);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok());
  const Tensor cal = random_tensor(rng, {4, 1, 12, 12}, 0.0, 1.0);
  DataSet data;
  data.images = random_tensor(rng, {7, 1, 12, 12}, 0.0, 1.0);
  data.labels = {0, 1, 2, 0, 1, 2, 0};
  NetworkOptions o;
  o.simulation.mapping.array = {32, 32};
  o.simulation.ir_drop = false;
  o.simulation.device.adc_bits = 5;
  o.simulation.adc.range = devices::AdcRange::kCalibrated;
  o.simulation.variation.read_noise = 0.02;
  o.simulation.threads = 2;
  std::vector<std::vector<double>> scores;
  for (std::int64_t batch : {7, 1, 3}) {
    o.batch = batch;
    StatusOr<CrossbarNetwork> x = CrossbarNetwork::prepare(net.value(), o, cal);
    ASSERT_TRUE(x.is_ok()) << x.status().message();
    std::vector<double> all;
    for (std::int64_t b = 0; b < 7; b += batch) {
      const std::int64_t e = std::min<std::int64_t>(7, b + batch);
      const Tensor s = x.value().forward(slice_samples(data.images, b, e), b).value().scores;
      all.insert(all.end(), s.data.begin(), s.data.end());
    }
    scores.push_back(all);
    StatusOr<Evaluation> ev = evaluate(x.value(), data);
    ASSERT_TRUE(ev.is_ok());
    EXPECT_EQ(ev.value().images, 7);
    EXPECT_GT(ev.value().adc_conversions, 0);
  }
  EXPECT_EQ(scores[0], scores[1]);  // bit for bit
  EXPECT_EQ(scores[0], scores[2]);
}

// A batch of more input vectors than one chunk (mapping/simulate.cpp reads a tile's batch in
// chunks of 8192): 100 images of 10 x 10 give 10,000 vectors per tile, two chunks.
TEST(Chunks, ABatchOfSeveralChunksIsExactAndIndependentOfThreadsAndSplits) {
  std::mt19937_64 rng(61);
  const Tensor w = random_tensor(rng, {4, 3, 3, 3}, -0.5, 0.5);
  const Tensor input = random_tensor(rng, {100, 3, 10, 10}, 0.0, 1.0);
  StatusOr<mapping::Layer> layer = mapping::make_layer(mapping::LayerKind::kConv, w, {}, 1, 1,
                                                       mapping::Activation::kNone, input);
  ASSERT_TRUE(layer.is_ok()) << layer.status().message();
  // Without parasitics: the floating-point layer, every vector of both chunks in its place.
  {
    mapping::SimulationOptions o;
    o.mapping.array = {16, 16};
    o.ir_drop = false;
    o.threads = 2;
    StatusOr<mapping::SimulationResult> sim = mapping::simulate(layer.value(), input, o);
    ASSERT_TRUE(sim.is_ok()) << sim.status().message();
    const Tensor reference = mapping::reference_forward(
        layer.value(), input, [](double v) { return v; }, [](double x) { return x; });
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < reference.data.size(); ++i) {
      worst = std::max(worst, std::abs(sim.value().simulated.data[i] - reference.data[i]));
      scale = std::max(scale, std::abs(reference.data[i]));
    }
    EXPECT_GT(scale, 0.1);
    EXPECT_LE(worst, 1e-9 * scale);
  }
  // With parasitics and read noise: the same outputs on 1 and 2 threads, from simulate() and
  // from a prepared layer, and a sub-batch's outputs (its vectors numbered from its first
  // sample) equal the full batch's.
  mapping::SimulationOptions o;
  o.mapping.array = {16, 16};
  o.parasitics = {50.0, 2.0, 2.0, 50.0};
  o.variation.read_noise = 0.02;
  o.ir_drop = false;
  std::vector<Tensor> outputs;
  for (int threads : {1, 2}) {
    o.threads = threads;
    StatusOr<mapping::SimulationResult> sim = mapping::simulate(layer.value(), input, o);
    ASSERT_TRUE(sim.is_ok()) << sim.status().message();
    outputs.push_back(sim.value().simulated);
  }
  EXPECT_EQ(outputs[0].data, outputs[1].data);
  StatusOr<mapping::PreparedLayer> prepared = mapping::prepare_layer(layer.value(), o, input);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  StatusOr<mapping::LayerRun> all = mapping::run_layer(prepared.value(), input, false);
  ASSERT_TRUE(all.is_ok()) << all.status().message();
  Tensor tail;
  tail.shape = {10, 3, 10, 10};
  tail.data.assign(input.data.end() - 3000, input.data.end());
  StatusOr<mapping::LayerRun> part = mapping::run_layer(prepared.value(), tail, false, 90);
  ASSERT_TRUE(part.is_ok()) << part.status().message();
  double scale = 0.0, worst_all = 0.0, worst_part = 0.0;
  const size_t per_sample = all.value().simulated.data.size() / 100;
  for (size_t i = 0; i < all.value().simulated.data.size(); ++i) {
    scale = std::max(scale, std::abs(outputs[0].data[i]));
    worst_all = std::max(worst_all, std::abs(all.value().simulated.data[i] - outputs[0].data[i]));
  }
  for (size_t i = 0; i < part.value().simulated.data.size(); ++i) {
    worst_part = std::max(worst_part, std::abs(part.value().simulated.data[i] -
                                               outputs[0].data[90 * per_sample + i]));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(worst_all, 1e-12 * scale);
  EXPECT_LE(worst_part, 1e-12 * scale);
}

// Bit-serial signed inputs with read noise over two chunks: a vector is read in the passes of
// its own signs, so the outputs and ADC conversions of a sub-batch (its vectors numbered from its
// first sample) equal the full batch's, although the last 8 vectors (the second chunk) are the
// only negative ones.
TEST(Chunks, BitSerialReadsOfAVectorDoNotDependOnItsChunk) {
  std::mt19937_64 rng(62);
  const Tensor w = random_tensor(rng, {4, 16}, -0.5, 0.5);
  Tensor input = random_tensor(rng, {8200, 16}, 0.0, 1.0);
  for (size_t i = 8192 * 16; i < input.data.size(); ++i) input.data[i] = -input.data[i];
  StatusOr<mapping::Layer> layer = mapping::make_layer(mapping::LayerKind::kDense, w, {}, 1, 0,
                                                       mapping::Activation::kNone, input);
  ASSERT_TRUE(layer.is_ok()) << layer.status().message();
  mapping::SimulationOptions o;
  o.mapping.array = {16, 16};
  o.parasitics = {50.0, 2.0, 2.0, 50.0};
  o.device.input_encoding = devices::InputEncoding::kBitSerial;
  o.device.input_bits = 4;
  o.variation.read_noise = 0.05;
  o.ir_drop = false;
  StatusOr<mapping::PreparedLayer> prepared = mapping::prepare_layer(layer.value(), o, input);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  StatusOr<mapping::LayerRun> all = mapping::run_layer(prepared.value(), input, false);
  ASSERT_TRUE(all.is_ok()) << all.status().message();
  Tensor tail;
  tail.shape = {9, 16};
  tail.data.assign(input.data.end() - 9 * 16, input.data.end());
  StatusOr<mapping::LayerRun> part = mapping::run_layer(prepared.value(), tail, false, 8191);
  ASSERT_TRUE(part.is_ok()) << part.status().message();
  double scale = 0.0, worst = 0.0;
  for (size_t i = 0; i < part.value().simulated.data.size(); ++i) {
    const double full = all.value().simulated.data[8191 * 4 + i];
    scale = std::max(scale, std::abs(full));
    worst = std::max(worst, std::abs(part.value().simulated.data[i] - full));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(worst, 1e-12 * scale);
  // 4 outputs per vector and bit: one pass for each of the 8192 positive vectors and 8 negative
  // ones, two for none.
  EXPECT_EQ(all.value().adc_conversions, 8200 * 4 * 4);
  EXPECT_EQ(part.value().adc_conversions, 9 * 4 * 4);
}

// The network's layer path (set up once, then run) is the one-shot simulate() split in two: with
// the same calibration batch, a calibrated ADC and read noise, they give the same outputs.
TEST(PreparedLayer, SetUpOnceThenRunEqualsSimulate) {
  std::mt19937_64 rng(6);
  const Tensor w = random_tensor(rng, {6, 3, 3, 3}, -0.5, 0.5);
  const Tensor input = random_tensor(rng, {3, 3, 10, 10}, -0.2, 1.0);
  const Tensor cal = random_tensor(rng, {2, 3, 10, 10}, -0.3, 1.1);
  StatusOr<mapping::Layer> layer =
      mapping::make_layer(mapping::LayerKind::kConv, w, {0.1, 0, 0, -0.1, 0.2, 0}, 1, 1,
                          mapping::Activation::kNone, input);
  ASSERT_TRUE(layer.is_ok()) << layer.status().message();
  mapping::SimulationOptions o;
  o.mapping.array = {16, 16};
  o.parasitics = {50.0, 2.0, 2.0, 50.0};
  o.device.r_lrs = 10e3;
  o.device.r_hrs = 100e3;
  o.device.adc_bits = 6;
  o.adc.range = devices::AdcRange::kCalibrated;
  o.variation.read_noise = 0.02;
  o.ir_drop = false;
  StatusOr<mapping::SimulationResult> once = mapping::simulate(layer.value(), input, o, {}, &cal);
  ASSERT_TRUE(once.is_ok()) << once.status().message();
  StatusOr<mapping::PreparedLayer> prepared = mapping::prepare_layer(layer.value(), o, cal);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  StatusOr<mapping::LayerRun> run = mapping::run_layer(prepared.value(), input, true);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  ASSERT_EQ(run.value().simulated.shape, once.value().simulated.shape);
  double scale = 0.0, worst = 0.0, worst_ideal = 0.0;
  for (size_t i = 0; i < once.value().simulated.data.size(); ++i) {
    scale = std::max(scale, std::abs(once.value().ideal.data[i]));
    worst =
        std::max(worst, std::abs(run.value().simulated.data[i] - once.value().simulated.data[i]));
    worst_ideal =
        std::max(worst_ideal, std::abs(run.value().ideal.data[i] - once.value().ideal.data[i]));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(worst, 1e-12 * scale);
  EXPECT_LE(worst_ideal, 1e-12 * scale);
  // and the parasitics did change the outputs (the comparison is not of two ideal runs)
  double moved = 0.0;
  for (size_t i = 0; i < once.value().simulated.data.size(); ++i)
    moved = std::max(moved, std::abs(once.value().simulated.data[i] - once.value().ideal.data[i]));
  EXPECT_GT(moved, 1e-3 * scale);
}

// The memory a network keeps (every tile's response) and a batch's needs on top of it are
// checked before anything is allocated, against simulation.memory_limit.
TEST(CrossbarNetwork, MemoryBeyondTheLimitIsRefusedBeforeItIsAllocated) {
  std::mt19937_64 rng(7);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok());
  const Tensor cal = random_tensor(rng, {2, 1, 12, 12}, 0.0, 1.0);
  NetworkOptions o;
  o.simulation.mapping.array = {32, 32};
  o.simulation.ir_drop = false;
  // Its 6 tiles of 32x32 keep 6 x 3 x 8 x 32 x 32 B = 147 kB (T, targets, noise coupling).
  o.simulation.memory_limit = 140e3;
  StatusOr<CrossbarNetwork> x = CrossbarNetwork::prepare(net.value(), o, cal);
  ASSERT_FALSE(x.is_ok());
  EXPECT_NE(x.status().message().find("network 'n': its 6 tiles keep about 0.000147 GB"),
            std::string::npos)
      << x.status().message();
  // Enough for the network, not for a batch of 1000 images on top of it.
  o.simulation.memory_limit = 3e6;
  x = CrossbarNetwork::prepare(net.value(), o, cal);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  DataSet data;
  data.images = random_tensor(rng, {1000, 1, 12, 12}, 0.0, 1.0);
  data.labels.assign(1000, 0);
  NetworkOptions big = o;
  big.batch = 1000;
  x = CrossbarNetwork::prepare(net.value(), big, cal);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  StatusOr<Evaluation> e = evaluate(x.value(), data);
  ASSERT_FALSE(e.is_ok());
  EXPECT_NE(e.status().message().find("a batch of 1000 images needs about"), std::string::npos)
      << e.status().message();
}

TEST(DataSets, LabelsOutOfRangeAndShapesAreRefused) {
  std::mt19937_64 rng(6);
  StatusOr<Network> net = make_network("n", {1, 12, 12}, 3, small_net(rng));
  ASSERT_TRUE(net.is_ok());
  DataSet d;
  d.images = random_tensor(rng, {2, 1, 12, 12}, 0.0, 1.0);
  d.labels = {0, 3};
  Status s = validate(d, net.value());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("label 3 of image 1 is outside 0 .. 2"), std::string::npos);
  d.labels = {0};
  EXPECT_FALSE(validate(d, net.value()).is_ok());
  d.labels = {0, 1};
  EXPECT_TRUE(validate(d, net.value()).is_ok());
  d.images = random_tensor(rng, {2, 1, 12, 11}, 0.0, 1.0);
  s = validate(d, net.value());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("the network takes (N, 1, 12, 12)"), std::string::npos);
}

std::string idx_bytes(std::uint8_t type, std::vector<std::uint32_t> dims,
                      std::vector<std::uint8_t> values) {
  std::string b{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  b.append(values.begin(), values.end());
  return b;
}

TEST(Idx, ParsesImagesAndLabels) {
  const std::string im = idx_bytes(0x08, {2, 1, 3}, {0, 51, 255, 1, 2, 3});
  StatusOr<IdxArray> a = parse_idx(im);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_EQ(a.value().dims, (std::vector<std::int64_t>{2, 1, 3}));
  StatusOr<IdxArray> l = parse_idx(idx_bytes(0x08, {2}, {7, 9}));
  ASSERT_TRUE(l.is_ok());
  StatusOr<DataSet> d = make_dataset(a.value(), l.value(), 0);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d.value().images.shape, (std::vector<std::int64_t>{2, 1, 1, 3}));
  EXPECT_DOUBLE_EQ(d.value().images.data[1], 0.2);
  EXPECT_DOUBLE_EQ(d.value().images.data[2], 1.0);
  EXPECT_EQ(d.value().labels, (std::vector<std::int64_t>{7, 9}));
  StatusOr<DataSet> first = make_dataset(a.value(), l.value(), 1);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first.value().images.dim(0), 1);
}

TEST(Idx, RefusesWhatIsNotIdx) {
  const auto refused = [](const std::string& bytes, const std::string& needle) {
    StatusOr<IdxArray> a = parse_idx(bytes);
    ASSERT_FALSE(a.is_ok());
    EXPECT_NE(a.status().message().find(needle), std::string::npos) << a.status().message();
  };
  refused("\x93NUMPY", "not an IDX file");
  refused("", "not an IDX file");
  refused(idx_bytes(0x0D, {2}, {0, 0, 0, 0, 0, 0, 0, 0}), "IDX type 0x0d");
  refused(idx_bytes(0x08, {2, 2}, {1, 2, 3}), "describe 4 values, the file holds 3");
  refused(idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {1}), "describe more values");
  refused(std::string("\0\0\x08\x03\0\0", 6), "needs 16 bytes");
  // images and labels that do not belong together
  const IdxArray im = parse_idx(idx_bytes(0x08, {2, 1, 1}, {1, 2})).value();
  const IdxArray lb = parse_idx(idx_bytes(0x08, {3}, {1, 2, 3})).value();
  StatusOr<DataSet> d = make_dataset(im, lb, 0);
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("2 images but 3 labels"), std::string::npos);
  EXPECT_FALSE(make_dataset(lb, lb, 0).is_ok());
}

}  // namespace
}  // namespace xbarnet::networks
