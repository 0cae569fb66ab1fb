#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <random>

#include "mapping/simulate.hpp"
#include "mapping/stages.hpp"
#include "mapping_util.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using mapping::Layer;
using mapping::LayerKind;
using mapping::LayerShape;
using mapping::Scheme;
using mapping::SimulationOptions;
using mapping::Tensor;

using testing::random_tensor;

struct Case {
  LayerKind kind;
  std::vector<std::int64_t> weights;
  std::vector<std::int64_t> input;
  std::int64_t stride, padding;
};

Layer make(std::mt19937_64& rng, const Case& c, const Tensor& input) {
  Tensor w = random_tensor(rng, c.weights, -1.0, 1.0);
  std::vector<double> bias(static_cast<size_t>(c.weights[0]));
  for (double& b : bias) b = testing::uniform(rng, -0.5, 0.5);
  auto layer = mapping::make_layer(c.kind, std::move(w), std::move(bias), c.stride, c.padding,
                                   mapping::Activation::kNone, input);
  EXPECT_TRUE(layer.is_ok()) << layer.status().to_string();
  return std::move(layer).value();
}

double rel(const Tensor& a, const Tensor& b) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    err = std::max(err, std::abs(a.data[i] - b.data[i]));
    scale = std::max(scale, std::abs(b.data[i]));
  }
  return err / scale;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases{
      {LayerKind::kDense, {70, 300}, {3, 300}, 1, 0},
      {LayerKind::kConv, {7, 5, 3, 3}, {2, 5, 9, 9}, 1, 1},
      {LayerKind::kConv, {4, 3, 3, 3}, {2, 3, 10, 10}, 2, 0},
      {LayerKind::kDepthwise, {6, 1, 3, 3}, {2, 6, 8, 8}, 1, 1},
      {LayerKind::kPointwise, {5, 8, 1, 1}, {2, 8, 6, 6}, 1, 0},
  };
  return kCases;
}

// With zero parasitics and an ideal ADC, every scheme reproduces the floating-point layer.
TEST(Mapping, EverySchemeIsExactWithoutParasitics) {
  std::mt19937_64 rng(30);
  for (const Case& c : cases()) {
    const Tensor input = random_tensor(rng, c.input, -1.0, 1.0);
    const Layer layer = make(rng, c, input);
    const Tensor reference = mapping::reference_forward(
        layer, input, [](double w) { return w; }, [](double x) { return x; });
    for (Scheme scheme : {Scheme::kIm2col, Scheme::kSubImage, Scheme::kInputSplit}) {
      if (scheme == Scheme::kSubImage && (c.kind == LayerKind::kDense || c.stride != 1)) continue;
      for (auto sign : {devices::SignScheme::kDifferential, devices::SignScheme::kReference}) {
        SimulationOptions opt;
        opt.mapping.scheme = scheme;
        opt.device.sign = sign;
        opt.mapping.array = {64, 64};
        opt.ir_drop = false;
        auto sim = mapping::simulate(layer, input, opt);
        ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
        const std::string what = fmt::format("{} {} {}", layer.shape.describe(),
                                             mapping::to_string(scheme), devices::to_string(sign));
        EXPECT_LT(rel(sim.value().simulated, reference), 1e-9) << what;
        EXPECT_LT(rel(sim.value().ideal, reference), 1e-9) << what;
      }
    }
  }
}

TEST(Mapping, QuantizedWeightsMatchTheQuantizedFloatLayer) {
  std::mt19937_64 rng(31);
  const Case c{LayerKind::kConv, {6, 4, 3, 3}, {2, 4, 7, 7}, 1, 1};
  const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
  const Layer layer = make(rng, c, input);
  for (auto q : {devices::Quantization::kBinary, devices::Quantization::kTernary,
                 devices::Quantization::kLevels}) {
    SimulationOptions opt;
    opt.device.quantization = q;
    opt.device.weight_bits = 3;
    opt.device.input_bits = 4;
    opt.mapping.array = {32, 32};
    opt.ir_drop = false;
    auto sim = mapping::simulate(layer, input, opt);
    ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
    const devices::WeightMap wmap(opt.device, sim.value().report.w_max);
    const devices::InputMap imap(opt.device, sim.value().report.x_max, false);
    const Tensor reference = mapping::reference_forward(
        layer, input, [&](double w) { return wmap.quantize(w); },
        [&](double x) { return imap.quantize(x); });
    EXPECT_LT(rel(sim.value().simulated, reference), 1e-9) << devices::to_string(q);
  }
}

// ------------------------------------------------------------------------------ counts

TEST(Counts, DenseLayerByHand) {
  LayerShape s;
  s.kind = LayerKind::kDense;
  s.in_channels = 300;
  s.out_channels = 70;
  mapping::MappingOptions o;
  o.array = {64, 64};
  auto p = mapping::plan(s, o);
  ASSERT_TRUE(p.is_ok());
  // 5 row tiles (64+64+64+64+44) x 3 column tiles (32+32+6 outputs of 32 pairs) = 15 arrays.
  EXPECT_EQ(p.value().arrays, 15);
  EXPECT_EQ(p.value().groups, 5);
  EXPECT_EQ(p.value().cells_used, 300 * 70 * 2);
  EXPECT_NEAR(p.value().utilisation, 42000.0 / (15 * 64 * 64), 1e-15);
  // Reference column: 63 outputs + 1 reference column per array.
  p = mapping::plan(s, o, devices::SignScheme::kReference);
  EXPECT_EQ(p.value().arrays, 5 * 2);
  EXPECT_EQ(p.value().cells_used, 300 * 70 + 300 * 2);
  o.scheme = Scheme::kInputSplit;  // 300 = 5 groups of 60 rows, 3 column tiles each
  p = mapping::plan(s, o);
  EXPECT_EQ(p.value().groups, 5);
  EXPECT_EQ(p.value().tiles[3].group, 1);
  EXPECT_EQ(p.value().tiles[3].k0, 60);
  EXPECT_EQ(p.value().tiles[3].nk, 60);
}

// The input-splitting groups of Kim et al.'s code (shared/PAPERS.md, section 4.2).
TEST(Counts, InputSplitGroupsMatchTheBnnTable) {
  struct Row {
    std::int64_t cin, array, groups, rows;
  };
  for (const Row& r : {Row{128, 128, 9, 128}, Row{128, 256, 6, 192}, Row{128, 512, 3, 384},
                       Row{256, 128, 18, 128}, Row{256, 256, 9, 256}, Row{256, 512, 6, 384},
                       Row{512, 128, 36, 128}, Row{512, 256, 18, 256}, Row{512, 512, 9, 512}}) {
    LayerShape s;
    s.kind = LayerKind::kConv;
    s.in_channels = r.cin;
    s.out_channels = 64;
    s.kernel = 3;
    s.padding = 1;
    s.in_height = s.in_width = 8;
    mapping::MappingOptions o;
    o.scheme = Scheme::kInputSplit;
    o.array = {r.array, r.array};
    auto p = mapping::plan(s, o);
    ASSERT_TRUE(p.is_ok());
    EXPECT_EQ(p.value().groups, r.groups) << r.cin << " channels, array " << r.array;
    EXPECT_EQ(p.value().tiles[0].nk, r.rows) << r.cin << " channels, array " << r.array;
  }
  LayerShape fc;
  fc.kind = LayerKind::kDense;
  fc.in_channels = 8192;
  fc.out_channels = 1024;
  mapping::MappingOptions o;
  o.scheme = Scheme::kInputSplit;
  o.array = {256, 256};
  EXPECT_EQ(mapping::plan(fc, o).value().groups, 32);
}

// A prime fan-in has no equal split short of one-row groups: ceil(K/R) groups whose sizes differ
// by at most one row, and the plan says so; the layer stays exact.
TEST(Counts, InputSplitOfAPrimeFanIn) {
  LayerShape s;
  s.kind = LayerKind::kDense;
  s.in_channels = 131;
  s.out_channels = 8;
  mapping::MappingOptions o;
  o.scheme = Scheme::kInputSplit;
  o.array = {128, 128};
  auto p = mapping::plan(s, o);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p.value().groups, 2);
  ASSERT_EQ(p.value().tiles.size(), 2u);
  EXPECT_EQ(p.value().tiles[0].nk, 66);
  EXPECT_EQ(p.value().tiles[1].k0, 66);
  EXPECT_EQ(p.value().tiles[1].nk, 65);
  EXPECT_NE(p.value().note.find("split into 2 groups of 66 or 65 rows"), std::string::npos)
      << p.value().note;
  s.in_channels = 132;  // 132 = 2 x 66: Kim et al.'s equal groups, no note
  p = mapping::plan(s, o);
  EXPECT_EQ(p.value().groups, 2);
  EXPECT_EQ(p.value().tiles[1].nk, 66);
  EXPECT_TRUE(p.value().note.empty());

  std::mt19937_64 rng(36);
  const Case c{LayerKind::kDense, {8, 131}, {3, 131}, 1, 0};
  const Tensor input = random_tensor(rng, c.input, -1.0, 1.0);
  const Layer layer = make(rng, c, input);
  SimulationOptions opt;
  opt.mapping = o;
  opt.ir_drop = false;
  auto sim = mapping::simulate(layer, input, opt);
  ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
  const Tensor reference = mapping::reference_forward(
      layer, input, [](double w) { return w; }, [](double x) { return x; });
  EXPECT_LT(rel(sim.value().simulated, reference), 1e-9);
}

// Cells used count the cells that hold a weight of the layer once, whatever the tiling.
TEST(Counts, CellsUsedCountEachWeightOnce) {
  LayerShape dw;
  dw.kind = LayerKind::kDepthwise;
  dw.in_channels = dw.out_channels = 300;
  dw.kernel = 13;  // 169 rows: every block is cut into a 128-row and a 41-row tile
  dw.padding = 6;
  dw.in_height = dw.in_width = 16;
  mapping::MappingOptions o;
  o.array = {128, 128};
  auto p = mapping::plan(dw, o);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p.value().arrays, 600);
  EXPECT_EQ(p.value().cells_used, 300 * 169 * 2);  // 101,400
  // Sub-image depthwise 3x3, 2 channels, 4x4 outputs, s = 2: each of the 4 sub-images has 4
  // outputs of 9 taps per channel (the other entries of the 4 x 16 Toeplitz block are zeros).
  LayerShape small;
  small.kind = LayerKind::kDepthwise;
  small.in_channels = small.out_channels = 2;
  small.kernel = 3;
  small.padding = 1;
  small.in_height = small.in_width = 4;
  o.scheme = Scheme::kSubImage;
  o.subimage = 2;
  o.array = {32, 16};
  p = mapping::plan(small, o);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p.value().lowering.copies, 4);
  EXPECT_EQ(p.value().tiles.size(), 1u);               // both 16 x 4 blocks in one array
  EXPECT_EQ(p.value().cells_used, 2 * 4 * 4 * 9 * 2);  // 576
  // The reference column adds its used rows.
  p = mapping::plan(small, o, devices::SignScheme::kReference);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p.value().cells_used, 4 * (2 * 4 * 9 + p.value().tiles[0].nk));
}

// The plan's cell count (by formula) against the present entries of the lowered weights.
TEST(Counts, CellsUsedEqualThePresentEntriesOfTheLoweredWeights) {
  std::mt19937_64 rng(37);
  for (const Case& c : cases()) {
    const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
    const Layer layer = make(rng, c, input);
    for (Scheme scheme : {Scheme::kIm2col, Scheme::kSubImage, Scheme::kInputSplit}) {
      if (scheme == Scheme::kSubImage && (c.kind == LayerKind::kDense || c.stride != 1)) continue;
      for (std::int64_t rows : {16, 40}) {
        mapping::MappingOptions o;
        o.scheme = scheme;
        o.array = {rows, 24};
        auto p = mapping::plan(layer.shape, o);
        ASSERT_TRUE(p.is_ok());
        const mapping::LoweredWeights lw = mapping::lowered_weights(layer, p.value().lowering);
        std::int64_t present = 0;
        for (const mapping::TileSpec& t : p.value().tiles) {
          present += lw.present.block(t.m0, t.k0, t.nm, t.nk).cast<std::int64_t>().sum();
        }
        EXPECT_EQ(p.value().cells_used, 2 * present * p.value().lowering.copies)
            << layer.shape.describe() << " " << mapping::to_string(scheme) << " rows " << rows;
      }
    }
  }
}

TEST(Counts, SubImageSizesAndHalosByHand) {
  LayerShape dw;
  dw.kind = LayerKind::kDepthwise;
  dw.in_channels = dw.out_channels = 16;
  dw.kernel = 3;
  dw.padding = 1;
  dw.in_height = dw.in_width = 32;
  mapping::MappingOptions o;
  o.scheme = Scheme::kSubImage;
  o.array = {128, 128};
  auto p = mapping::plan(dw, o);
  ASSERT_TRUE(p.is_ok());
  // (s + 2)^2 <= 128 rows: s = 9 (121 rows); 32 x 32 outputs need ceil(32/9)^2 = 16 sub-images.
  EXPECT_EQ(p.value().lowering.subimage, 9);
  EXPECT_EQ(p.value().lowering.copies, 16);
  // One 121-row block per array (121 rows, 81 pairs of columns do not fit 64: split by columns).
  EXPECT_EQ(p.value().lowering.halo_rows_per_copy, 16 * (121 - 81));
  o.array = {256, 256};
  p = mapping::plan(dw, o);
  EXPECT_EQ(p.value().lowering.subimage, 14);  // 16^2 = 256 rows
  EXPECT_EQ(p.value().lowering.halo_rows_per_copy, 16 * (256 - 196));

  // A 3D-kernel layer: Cin = 64 makes even s = 1 need 9 x 64 = 576 rows.
  LayerShape conv = dw;
  conv.kind = LayerKind::kConv;
  conv.in_channels = conv.out_channels = 64;
  o.array = {128, 128};
  p = mapping::plan(conv, o);
  EXPECT_EQ(p.value().lowering.subimage, 1);
  EXPECT_EQ(p.value().lowering.inputs, 576);
  EXPECT_EQ(p.value().groups, 5);                // 576 rows in 128-row tiles
  EXPECT_EQ(p.value().arrays, 5 * 1 * 32 * 32);  // 64 outputs = one column tile, 1024 sub-images
}

TEST(Counts, DepthwiseBlocksArePackedWhole) {
  LayerShape dw;
  dw.kind = LayerKind::kDepthwise;
  dw.in_channels = dw.out_channels = 100;
  dw.kernel = 3;
  dw.padding = 1;
  dw.in_height = dw.in_width = 8;
  mapping::MappingOptions o;
  o.array = {128, 128};
  auto p = mapping::plan(dw, o);
  ASSERT_TRUE(p.is_ok());
  // 14 channels of 9 rows fit 128 rows (126): ceil(100 / 14) = 8 arrays.
  EXPECT_EQ(p.value().arrays, 8);
  EXPECT_EQ(p.value().tiles[0].nk, 126);
  EXPECT_EQ(p.value().cells_used, 100 * 9 * 2);
}

// ------------------------------------------------------------------ with parasitics

TEST(Mapping, ResultsDoNotDependOnTheThreadCount) {
  std::mt19937_64 rng(32);
  const Case c{LayerKind::kConv, {12, 8, 3, 3}, {2, 8, 6, 6}, 1, 1};
  const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
  const Layer layer = make(rng, c, input);
  SimulationOptions opt;
  opt.mapping.array = {32, 32};
  opt.parasitics = {100.0, 2.5, 2.5, 100.0};
  opt.threads = 1;
  auto one = mapping::simulate(layer, input, opt);
  opt.threads = 2;
  auto two = mapping::simulate(layer, input, opt);
  ASSERT_TRUE(one.is_ok() && two.is_ok());
  EXPECT_EQ(one.value().simulated.data, two.value().simulated.data);
  EXPECT_GT(one.value().report.rmse, 0.0);
}

// Every tile of a layer has the same layout (size and parasitics): its system is assembled and
// analyzed once, and each tile re-stamps its cells into a clone of it (or into the system of a
// finished tile). The outputs are those of assembling every tile anew, on every backend.
// The reference: every tile through solver::transfer_matrix (assemble, analyze, factorize, T)
// and solver::solve_crossbar, none of the pool, clone or re-stamp code.
class FreshTile final : public mapping::TileResponse {
 public:
  FreshTile(netlists::Crossbar circuit, Eigen::MatrixXd t)
      : circuit_(std::move(circuit)), t_(std::move(t)) {}
  Eigen::MatrixXd currents(const Eigen::MatrixXd& v,
                           const std::vector<Eigen::Index>& columns) const override {
    Eigen::MatrixXd out(v.rows(), static_cast<Eigen::Index>(columns.size()));
    for (size_t q = 0; q < columns.size(); ++q) {
      out.col(static_cast<Eigen::Index>(q)) = v * t_.row(columns[q]).head(v.cols()).transpose();
    }
    return out;
  }
  const Eigen::MatrixXd* transfer() const override { return &t_; }
  StatusOr<solver::CrossbarSolution> operating_point(const Eigen::MatrixXd& v) override {
    solver::SolveOptions o;
    o.node_voltages = true;
    auto run = solver::solve_crossbar(circuit_, v, {}, o);
    if (!run.is_ok()) return run.status();
    return std::move(run).value().solution;
  }
  const mapping::TileHealth& health() const override { return health_; }

 private:
  netlists::Crossbar circuit_;
  Eigen::MatrixXd t_;
  mapping::TileHealth health_{"fresh", 0.0, 0.0, 0};
};

class FreshEveryTile final : public mapping::ResponseModel {
 public:
  explicit FreshEveryTile(solver::Backend b) : backend_(b) {}
  std::string_view name() const override { return "fresh"; }
  StatusOr<std::unique_ptr<mapping::TileResponse>> prepare(const netlists::Crossbar& circuit,
                                                           const mapping::TileContext& /*tile*/,
                                                           bool /*ir_map*/) const override {
    auto t = solver::transfer_matrix(circuit, backend_);
    if (!t.is_ok()) return t.status();
    return std::unique_ptr<mapping::TileResponse>(
        new FreshTile(circuit, std::move(t).value().transfer.t));
  }

 private:
  solver::Backend backend_;
};

TEST(Mapping, TilesOfOneLayoutShareOneAnalysis) {
  std::mt19937_64 rng(34);
  const Case c{LayerKind::kDense, {40, 150}, {3, 150}, 1, 0};
  const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
  const Layer layer = make(rng, c, input);
  for (solver::Backend b : solver::all_backends()) {
    SimulationOptions opt;
    opt.mapping.array = {16, 16};  // 10 row groups x 5 column groups = 50 tiles
    opt.parasitics = {100.0, 2.5, 2.5, 100.0};
    opt.backend = b;
    opt.threads = 2;
    auto shared = mapping::simulate(layer, input, opt);
    const FreshEveryTile fresh_model(b);
    mapping::Stages fresh_stages;
    fresh_stages.response = &fresh_model;
    auto fresh = mapping::simulate(layer, input, opt, fresh_stages);
    ASSERT_TRUE(shared.is_ok()) << shared.status().to_string();
    ASSERT_TRUE(fresh.is_ok()) << fresh.status().to_string();
    EXPECT_EQ(shared.value().report.tiles.size(), 50u);
    EXPECT_EQ(shared.value().report.analyses, 1) << solver::to_string(b);
    EXPECT_LT(rel(shared.value().simulated, fresh.value().simulated), 1e-12)
        << solver::to_string(b);
    EXPECT_GT(shared.value().report.rmse, 0.0);
    EXPECT_LT(shared.value().report.worst_transfer_check, 1e-12);
  }
}

// simulate() and a prepared layer read alike, with and without the ideal reference: the same
// outputs, ideal outputs and ADC counts for both sign schemes, with a write-side correction's
// digital gain, the read side's column gains and input scaling, and a 6-bit ADC; and the ideal
// outputs are those of ideal arrays.
TEST(Mapping, SimulateAndAPreparedLayerReadAlike) {
  std::mt19937_64 rng(35);
  const Case c{LayerKind::kDense, {7, 40}, {5, 40}, 1, 0};
  const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
  const Layer layer = make(rng, c, input);
  for (const auto sign : {devices::SignScheme::kReference, devices::SignScheme::kDifferential}) {
    for (const auto scheme :
         {corrections::Scheme::kNone, corrections::Scheme::kPredistortion,
          corrections::Scheme::kColumnGain, corrections::Scheme::kInputScaling}) {
      for (const int bits : {0, 6}) {
        SimulationOptions opt;
        opt.mapping.array = {16, 16};
        opt.device.sign = sign;
        opt.device.adc_bits = bits;
        opt.parasitics = {100.0, 2.5, 2.5, 100.0};
        opt.correction.scheme = scheme;
        const std::string what = fmt::format("{} {} {} bits", devices::to_string(sign),
                                             corrections::to_string(scheme), bits);
        auto one = mapping::simulate(layer, input, opt);
        ASSERT_TRUE(one.is_ok()) << what << ": " << one.status().to_string();
        auto prepared = mapping::prepare_layer(layer, opt, input);
        ASSERT_TRUE(prepared.is_ok()) << what << ": " << prepared.status().to_string();
        auto two = mapping::run_layer(prepared.value(), input, true);
        ASSERT_TRUE(two.is_ok()) << what << ": " << two.status().to_string();
        EXPECT_LT(rel(one.value().simulated, two.value().simulated), 1e-12) << what;
        EXPECT_LT(rel(one.value().ideal, two.value().ideal), 1e-12) << what;
        EXPECT_GT(rel(one.value().simulated, one.value().ideal), 1e-4) << what;
        EXPECT_EQ(one.value().report.adc_conversions, two.value().adc_conversions) << what;
        EXPECT_EQ(one.value().report.adc_clipped, two.value().adc_clipped) << what;
        EXPECT_EQ(one.value().report.adc_nonzero, two.value().adc_nonzero) << what;
        auto alone = mapping::run_layer(prepared.value(), input, false);
        ASSERT_TRUE(alone.is_ok()) << what << ": " << alone.status().to_string();
        EXPECT_LT(rel(one.value().simulated, alone.value().simulated), 1e-12) << what;
        EXPECT_EQ(one.value().report.adc_conversions, alone.value().adc_conversions) << what;
        if (bits == 0 && corrections::side_of(scheme) != corrections::Side::kRead) {
          SimulationOptions ideal_opt = opt;
          ideal_opt.ideal_only = true;
          ideal_opt.correction.scheme = corrections::Scheme::kNone;
          auto ideal = mapping::simulate(layer, input, ideal_opt);
          ASSERT_TRUE(ideal.is_ok()) << what << ": " << ideal.status().to_string();
          EXPECT_LT(rel(one.value().ideal, ideal.value().simulated), 1e-12) << what;
        }
      }
    }
  }
}

// A tile whose cells would merge other resistances as shorts cannot re-stamp the shared system:
// it is assembled and analyzed anew, and its T is still exact.
TEST(Mapping, ATileThatChangesTheShortMergeIsAssembledAnew) {
  const std::vector<double> w{1.0};
  Tensor x;
  x.shape = {1, 1};
  x.data = {1.0};
  auto layer = mapping::make_layer(LayerKind::kDense, Tensor{{1, 1}, w}, {}, 1, 0,
                                   mapping::Activation::kNone, x);
  ASSERT_TRUE(layer.is_ok());
  SimulationOptions opt;
  opt.mapping.array = {3, 4};
  auto planned = mapping::plan(layer.value().shape, opt.mapping, opt.device.sign);
  ASSERT_TRUE(planned.is_ok());
  const devices::WeightMap wmap(opt.device, 1.0);
  const netlists::Parasitics par{100.0, 2.5, 1e-6, 100.0};  // 1e6 S bit lines
  const mapping::TileContext ctx{
      planned.value(), planned.value().tiles[0], 0, par, opt.device, wmap};
  const mapping::LinearCircuitResponse lin(solver::Backend::kCholmod);
  std::mt19937_64 rng(35);
  // Cells up to 2e-5 S merge the bit lines (ratio 5e10 > 1e10); cells up to 1e-3 S keep them.
  for (double g_max : {2e-5, 2e-5, 1e-3, 2e-5}) {
    const Eigen::MatrixXd g = testing::random_matrix(rng, 3, 4, 1e-5, g_max);
    const netlists::Crossbar circuit = netlists::Crossbar::uniform(g, par);
    auto t = lin.prepare(circuit, ctx, false);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    auto fresh = solver::transfer_matrix(circuit);
    ASSERT_TRUE(fresh.is_ok());
    EXPECT_LT(testing::rel_diff(*t.value()->transfer(), fresh.value().transfer.t), 1e-12) << g_max;
    EXPECT_EQ(t.value()->health().tiny_shorts, g_max < 1e-4 ? 3 * 4 - 4 : 0) << g_max;
  }
  // The layout's prototype and the 1e-3 S tile's own system, which does not go back to the pool
  // (the last tile re-stamps a pooled one).
  EXPECT_EQ(lin.analyses(), 2);
  // Layouts that differ in one parasitic (r_neuron) never share a system: A, B, A analyze three
  // times, and each T is that of its own circuit.
  const mapping::LinearCircuitResponse lin2(solver::Backend::kCholmod);
  for (double rn : {100.0, 50.0, 100.0}) {
    const netlists::Crossbar circuit = netlists::Crossbar::uniform(
        testing::random_matrix(rng, 3, 4, 1e-5, 1e-4), 100.0, 2.5, 2.5, rn);
    auto t = lin2.prepare(circuit, ctx, false);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    auto fresh = solver::transfer_matrix(circuit);
    ASSERT_TRUE(fresh.is_ok());
    EXPECT_LT(testing::rel_diff(*t.value()->transfer(), fresh.value().transfer.t), 1e-12) << rn;
  }
  EXPECT_EQ(lin2.analyses(), 3);
}

TEST(Mapping, ParasiticsDegradeLaterColumnsMost) {
  std::mt19937_64 rng(33);
  const Case c{LayerKind::kDense, {60, 64}, {16, 64}, 1, 0};
  const Tensor input = random_tensor(rng, c.input, 0.0, 1.0);
  const Layer layer = make(rng, c, input);
  SimulationOptions opt;
  opt.mapping.array = {64, 128};
  opt.parasitics = {0.0, 3.0, 0.0, 0.0};  // word-line resistance only
  auto sim = mapping::simulate(layer, input, opt);
  ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
  const auto& r = sim.value().report;
  EXPECT_GT(r.error_by_column[119], 2.0 * r.error_by_column[0]);  // far end of the word line
  EXPECT_GT(r.worst_ir_drop_fraction, 0.0);
  EXPECT_GE(r.worst_ir_drop_fraction, r.mean_ir_drop_fraction);
  EXPECT_EQ(r.tiles.size(), 1u);
  EXPECT_EQ(r.adc_conversions, 16 * 60);
}

TEST(Mapping, MajorityMergeGivesSigns) {
  std::mt19937_64 rng(34);
  const Case c{LayerKind::kDense, {10, 200}, {4, 200}, 1, 0};
  const Tensor input = random_tensor(rng, c.input, -1.0, 1.0);
  const Layer layer = make(rng, c, input);
  SimulationOptions opt;
  opt.mapping.scheme = Scheme::kInputSplit;
  opt.mapping.merge = mapping::Merge::kMajority;
  opt.mapping.array = {64, 64};
  opt.device.adc_bits = 1;
  opt.ir_drop = false;
  auto sim = mapping::simulate(layer, input, opt);
  ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
  EXPECT_EQ(sim.value().report.plan.groups, 4);  // 200 = 4 groups of 50
  for (double v : sim.value().simulated.data) EXPECT_TRUE(v == 1.0 || v == -1.0);
}

TEST(Mapping, BadInputsAreNamed) {
  std::mt19937_64 rng(35);
  Tensor w = random_tensor(rng, {4, 3, 3, 3}, -1, 1);
  Tensor x = random_tensor(rng, {1, 3, 5, 5}, 0, 1);
  w.data[7] = std::nan("");
  auto layer = mapping::make_layer(LayerKind::kConv, w, {}, 1, 0, mapping::Activation::kNone, x);
  ASSERT_FALSE(layer.is_ok());
  EXPECT_NE(layer.status().message().find("weights[7] (flat index) = nan: must be finite"),
            std::string::npos);
  w.data[7] = 0.0;
  Tensor bad = random_tensor(rng, {1, 4, 5, 5}, 0, 1);
  auto l2 = mapping::make_layer(LayerKind::kConv, w, {}, 1, 0, mapping::Activation::kNone, x);
  ASSERT_TRUE(l2.is_ok());
  EXPECT_NE(mapping::validate_input(l2.value(), bad).message().find("needs (N, 3, 5, 5)"),
            std::string::npos);
}

}  // namespace
}  // namespace xbarnet
