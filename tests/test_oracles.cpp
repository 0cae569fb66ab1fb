// Oracles that share no code with what they check: hand-computed tables for every quantizer and
// the DAC, a per-group oracle for input splitting (sum and majority merge, bias included), the
// ADC at layer level with codes worked by hand, every reported metric against the independent
// MNA oracle, and the figures the documentation quotes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "devices/device.hpp"
#include "mapping/simulate.hpp"
#include "reference_mna.hpp"

namespace xbarnet {
namespace {

using devices::DeviceParams;
using devices::Quantization;
using devices::SignScheme;
using mapping::LayerKind;
using mapping::SimulationOptions;
using mapping::Tensor;

struct Row {
  double in, out;
};

// ----------------------------------------------------------------- quantizers, by hand

TEST(Oracle, BinaryAndTernaryWeights) {
  DeviceParams p;
  p.quantization = Quantization::kBinary;
  const devices::WeightMap binary(p, 2.0);
  for (Row r : {Row{-2.0, -2.0}, {-0.5, -2.0}, {0.0, 2.0}, {0.1, 2.0}, {1.9, 2.0}}) {
    EXPECT_EQ(binary.quantize(r.in), r.out) << r.in;
  }
  p.quantization = Quantization::kTernary;
  p.ternary_threshold = 0.5;  // |w| <= 1 -> 0
  const devices::WeightMap ternary(p, 2.0);
  for (Row r : {Row{-1.5, -2.0}, {-1.0, 0.0}, {0.3, 0.0}, {1.0, 0.0}, {1.01, 2.0}, {2.0, 2.0}}) {
    EXPECT_EQ(ternary.quantize(r.in), r.out) << r.in;
  }
}

// Differential pair, 2 bits per device: |q| in {0, 1, 2, 3} for w_max = 3 (round to nearest).
TEST(Oracle, LevelsOfADifferentialPair) {
  DeviceParams p;
  p.quantization = Quantization::kLevels;
  p.weight_bits = 2;
  const devices::WeightMap m(p, 3.0);
  for (Row r : {Row{1.4, 1.0},
                {1.6, 2.0},
                {-2.6, -3.0},
                {0.49, 0.0},
                {-0.51, -1.0},
                {3.5, 3.0},
                {2.5, 3.0}}) {
    EXPECT_DOUBLE_EQ(m.quantize(r.in), r.out) << r.in;
  }
}

// Reference column, 2 bits per device: one device spans [-3, 3] in 4 levels {-3, -1, 1, 3}.
TEST(Oracle, LevelsOfAReferenceColumnDevice) {
  DeviceParams p;
  p.quantization = Quantization::kLevels;
  p.sign = SignScheme::kReference;
  p.weight_bits = 2;
  const devices::WeightMap m(p, 3.0);
  // u = (w + 3) / 6 * 3 levels: 0 -> 1.5 -> 2 (+1); -0.2 -> 1.4 -> 1 (-1); 2.2 -> 2.6 -> 3 (+3);
  // 1.2 -> 2.1 -> 2 (+1); -2.5 -> 0.25 -> 0 (-3); -1.9 -> 0.55 -> 1 (-1).
  for (Row r : {Row{0.0, 1.0}, {-0.2, -1.0}, {2.2, 3.0}, {1.2, 1.0}, {-2.5, -3.0}, {-1.9, -1.0}}) {
    EXPECT_DOUBLE_EQ(m.quantize(r.in), r.out) << r.in;
  }
}

// Conductances: G_min = 1e-5 S, G_max = 1e-4 S (10 kOhm / 100 kOhm), w_max = 2.
TEST(Oracle, ConductancesOfBothSignSchemes) {
  DeviceParams p;
  const devices::WeightMap diff(p, 2.0);  // a = 9e-5 / 2 = 4.5e-5 S per unit
  EXPECT_NEAR(diff.pair(1.0).first, 5.5e-5, 1e-20);
  EXPECT_NEAR(diff.pair(1.0).second, 1e-5, 1e-20);
  EXPECT_NEAR(diff.pair(-0.5).first, 1e-5, 1e-20);
  EXPECT_NEAR(diff.pair(-0.5).second, 3.25e-5, 1e-20);
  p.sign = SignScheme::kReference;
  const devices::WeightMap ref(p, 2.0);  // G_ref = 5.5e-5 S, a = 9e-5 / 4 = 2.25e-5 S per unit
  EXPECT_NEAR(ref.g_ref(), 5.5e-5, 1e-20);
  EXPECT_NEAR(ref.single(1.0), 7.75e-5, 1e-20);
  EXPECT_NEAR(ref.single(-2.0), 1e-5, 1e-20);
}

// The DAC, 2 bits, x_max = 2: unsigned levels {0, 2/3, 4/3, 2}, signed {-2, -2/3, 2/3, 2}.
TEST(Oracle, InputDac) {
  DeviceParams p;
  p.input_bits = 2;
  p.v_read = 0.3;
  const devices::InputMap unsigned_dac(p, 2.0, false);
  for (Row r : {Row{0.3, 0.0},
                {0.4, 2.0 / 3},
                {1.0, 4.0 / 3},
                {0.9, 2.0 / 3},
                {1.9, 2.0},
                {-0.5, 0.0},
                {7.0, 2.0}}) {
    EXPECT_NEAR(unsigned_dac.quantize(r.in), r.out, 1e-15) << r.in;
    EXPECT_NEAR(unsigned_dac.voltage(r.in), r.out * 0.3 / 2.0, 1e-16) << r.in;
  }
  const devices::InputMap signed_dac(p, 2.0, true);
  // u = (x + 2) / 4 * 3: 0.1 -> 1.575 -> 2; -0.1 -> 1.425 -> 1; 1.5 -> 2.625 -> 3; -1.4 -> 0.45
  // -> 0; 1.3 -> 2.475 -> 2; 1.4 -> 2.55 -> 3.
  for (Row r : {Row{0.1, 2.0 / 3},
                {-0.1, -2.0 / 3},
                {1.5, 2.0},
                {-1.4, -2.0},
                {1.3, 2.0 / 3},
                {1.4, 2.0}}) {
    EXPECT_NEAR(signed_dac.quantize(r.in), r.out, 1e-15) << r.in;
  }
}

// The ADC, 3 bits over +-1: steps of 0.25, levels +-0.125 .. +-0.875.
TEST(Oracle, AdcCodes) {
  for (Row r : {Row{0.3, 0.375},
                {-0.3, -0.375},
                {0.0, 0.125},
                {0.999, 0.875},
                {1.5, 0.875},
                {-2.0, -0.875},
                {0.25, 0.375},
                {-0.25, -0.125}}) {
    EXPECT_DOUBLE_EQ(devices::adc(r.in, 3, 1.0), r.out) << r.in;
  }
}

// --------------------------------------------------------------- layers, worked by hand

mapping::Layer dense_layer(const std::vector<double>& w, std::int64_t m, std::int64_t k,
                           std::vector<double> bias, const Tensor& input) {
  Tensor t;
  t.shape = {m, k};
  t.data = w;
  auto l = mapping::make_layer(LayerKind::kDense, t, std::move(bias), 1, 0,
                               mapping::Activation::kNone, input);
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  return std::move(l).value();
}

Tensor matrix(std::int64_t n, std::int64_t k, std::vector<double> v) {
  Tensor t;
  t.shape = {n, k};
  t.data = std::move(v);
  return t;
}

// y = W x, W = [[1, 0.2], [-0.3, 0.6]], inputs [1, 0] and [0, 1]: y = [1, -0.3] and [0.2, 0.6].
// Range 'calibrated' on this same batch (ideal arrays): full scale = the largest |y| = 1; a 2-bit
// ADC has steps of 0.5 and levels -0.75, -0.25, 0.25, 0.75: 1 -> 0.75 (the top level, not
// clipped), -0.3 -> -0.25, 0.2 -> 0.25, 0.6 -> 0.75.
// Range 'bound': full scale = rows x w_max x x_max = 2 x 1 x 1 (in weight x input units: G_max -
// G_min is w_max, v_read is x_max); steps of 1, levels -1.5, -0.5, 0.5, 1.5: 1 -> 1.5,
// -0.3 -> -0.5, 0.2 -> 0.5, 0.6 -> 0.5.
TEST(Oracle, AdcAtLayerLevel) {
  const Tensor x = matrix(2, 2, {1.0, 0.0, 0.0, 1.0});
  const mapping::Layer layer = dense_layer({1.0, 0.2, -0.3, 0.6}, 2, 2, {}, x);
  SimulationOptions o;
  o.mapping.array = {2, 4};
  o.device.adc_bits = 2;
  o.adc.range = devices::AdcRange::kCalibrated;
  auto r = mapping::simulate(layer, x, o, {}, &x);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const std::vector<double> expected{0.75, -0.25, 0.25, 0.75};
  ASSERT_EQ(r.value().simulated.data.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(r.value().simulated.data[i], expected[i], 1e-12);
  EXPECT_EQ(r.value().report.adc_conversions, 4);
  EXPECT_EQ(r.value().report.adc_clipped, 0);

  o.adc.range = devices::AdcRange::kBound;
  auto b = mapping::simulate(layer, x, o);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  const std::vector<double> bound_expected{1.5, -0.5, 0.5, 0.5};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(b.value().simulated.data[i], bound_expected[i], 1e-12);
}

// Input splitting: 12 inputs on 4-row arrays = 3 groups of 4 rows; each group's partial sum y_g
// is digitised on its own. The oracle computes y_g by nested loops.
struct SplitCase {
  std::vector<double> w, bias, x;
  std::int64_t m = 5, k = 12, n = 3;
};

SplitCase split_case() {
  SplitCase c;
  for (std::int64_t i = 0; i < c.m * c.k; ++i)
    c.w.push_back(std::sin(1.7 * static_cast<double>(i) + 0.3));
  c.bias = {0.9, -1.3, 0.2, -0.05, 1.6};  // large enough to decide signs
  for (std::int64_t i = 0; i < c.n * c.k; ++i)
    c.x.push_back(0.5 + 0.5 * std::cos(0.9 * static_cast<double>(i)));
  return c;
}

// The case on 4 x 16 arrays with input splitting (and `merge`, `adc_bits`), simulated.
mapping::SimulationResult simulate_split(const SplitCase& c, mapping::Merge merge, int adc_bits) {
  const Tensor x = matrix(c.n, c.k, c.x);
  const mapping::Layer layer = dense_layer(c.w, c.m, c.k, c.bias, x);
  SimulationOptions o;
  o.mapping.array = {4, 16};
  o.mapping.scheme = mapping::Scheme::kInputSplit;
  o.mapping.merge = merge;
  o.device.adc_bits = adc_bits;
  o.adc.range = devices::AdcRange::kCalibrated;  // on this same batch
  auto r = mapping::simulate(layer, x, o, {}, &x);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value().report.plan.groups, 3);
  return std::move(r).value();
}

double group_sum(const SplitCase& c, std::int64_t sample, std::int64_t out, std::int64_t g) {
  double y = 0.0;
  for (std::int64_t k = 4 * g; k < 4 * g + 4; ++k) y += c.w[out * c.k + k] * c.x[sample * c.k + k];
  return y;
}

TEST(Oracle, InputSplitWithMajorityMergeIncludesTheBias) {
  const SplitCase c = split_case();
  const mapping::SimulationResult r = simulate_split(c, mapping::Merge::kMajority, 0);
  auto sign = [](double v) { return v >= 0.0 ? 1.0 : -1.0; };
  int decided_by_bias = 0;
  for (std::int64_t s = 0; s < c.n; ++s) {
    for (std::int64_t m = 0; m < c.m; ++m) {
      double votes = 0.0, votes_without_bias = 0.0;
      for (std::int64_t g = 0; g < 3; ++g) {
        votes += sign(group_sum(c, s, m, g) + c.bias[m] / 3.0);
        votes_without_bias += sign(group_sum(c, s, m, g));
      }
      EXPECT_EQ(r.simulated.data[s * c.m + m], sign(votes)) << s << "," << m;
      EXPECT_EQ(r.ideal.data[s * c.m + m], sign(votes)) << s << "," << m;
      decided_by_bias += sign(votes) != sign(votes_without_bias);
    }
  }
  EXPECT_GE(decided_by_bias, 2);  // the case has teeth: ignoring the bias changes outputs
}

// Sum merge with a 1-bit ADC (a sense amplifier): each group gives +-full_scale/2, the full scale
// being its tile's largest |y_g| over the calibration batch (here the same batch, ideal arrays);
// the merge adds the groups and then the bias.
TEST(Oracle, InputSplitWithSumMergeAndASenseAmplifier) {
  const SplitCase c = split_case();
  const mapping::SimulationResult r = simulate_split(c, mapping::Merge::kSum, 1);
  std::vector<double> full_scale(3, 0.0);
  for (std::int64_t g = 0; g < 3; ++g) {
    for (std::int64_t s = 0; s < c.n; ++s) {
      for (std::int64_t m = 0; m < c.m; ++m) {
        full_scale[g] = std::max(full_scale[g], std::abs(group_sum(c, s, m, g)));
      }
    }
  }
  for (std::int64_t s = 0; s < c.n; ++s) {
    for (std::int64_t m = 0; m < c.m; ++m) {
      double y = c.bias[m];
      for (std::int64_t g = 0; g < 3; ++g) {
        y += (group_sum(c, s, m, g) >= 0.0 ? 0.5 : -0.5) * full_scale[g];
      }
      EXPECT_NEAR(r.simulated.data[s * c.m + m], y, 1e-9 * std::abs(y) + 1e-12) << s << "," << m;
    }
  }
}

// Every metric of the layer report, on a 3 x 4 tile with parasitics, from the independent MNA
// oracle and the mapping of docs/mapping.md §2 worked in the test.
void check_every_metric(mapping::Activation activation) {
  const std::vector<double> w{0.5, -1.0, 0.25, 1.0, 0.5, -0.75};  // 2 outputs x 3 inputs
  const std::vector<double> bias{0.1, -0.2};
  const Tensor x = matrix(2, 3, {1.0, 0.5, 0.25, 0.2, 1.0, 0.6});
  mapping::Layer layer = dense_layer(w, 2, 3, bias, x);
  layer.activation = activation;  // relu: output (0, 0) has a negative pre-activation
  SimulationOptions o;
  o.mapping.array = {3, 4};
  o.parasitics = {50.0, 3.0, 4.0, 60.0};
  auto r = mapping::simulate(layer, x, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const mapping::LayerReport& rep = r.value().report;

  // Programmed tile: G_min = 1e-5, a = 9e-5 per weight unit (w_max = 1); pairs in columns 2m,
  // 2m+1. Inputs: V = 0.2 x (x_max = 1).
  Eigen::MatrixXd g(3, 4);
  for (int k = 0; k < 3; ++k) {
    for (int m = 0; m < 2; ++m) {
      g(k, 2 * m) = 1e-5 + 9e-5 * std::max(w[m * 3 + k], 0.0);
      g(k, 2 * m + 1) = 1e-5 + 9e-5 * std::max(-w[m * 3 + k], 0.0);
    }
  }
  const netlists::Crossbar tile = netlists::Crossbar::uniform(g, 50.0, 3.0, 4.0, 60.0);
  Eigen::MatrixXd v(2, 3);
  v << 0.2, 0.1, 0.05, 0.04, 0.2, 0.12;
  const Eigen::MatrixXd current = testing::reference_mna(tile, v);
  const Eigen::MatrixXd ideal_current = v * g;
  const Eigen::MatrixXd t =
      testing::reference_mna(tile, Eigen::MatrixXd::Identity(3, 3)).transpose();  // 4 x 3

  // Pre-activations in weight x input units: (I+ - I-) / (a * 0.2) + bias; outputs after ReLU.
  auto act = [&](double y) {
    return activation == mapping::Activation::kRelu ? std::max(y, 0.0) : y;
  };
  double se = 0.0, ref2 = 0.0, max_err = 0.0, max_ideal = 0.0;
  double se_mac = 0.0, max_err_mac = 0.0, max_ideal_mac = 0.0;
  int negative = 0;
  for (int s = 0; s < 2; ++s) {
    for (int m = 0; m < 2; ++m) {
      const double pre = (current(s, 2 * m) - current(s, 2 * m + 1)) / (9e-5 * 0.2) + bias[m];
      const double pre_ideal =
          (ideal_current(s, 2 * m) - ideal_current(s, 2 * m + 1)) / (9e-5 * 0.2) + bias[m];
      const double sim = act(pre), ideal = act(pre_ideal);
      negative += pre_ideal < 0.0;
      EXPECT_NEAR(r.value().simulated.data[s * 2 + m], sim, 1e-10 * std::abs(sim));
      EXPECT_NEAR(r.value().ideal.data[s * 2 + m], ideal, 1e-12 * std::abs(ideal));
      se += (sim - ideal) * (sim - ideal);
      ref2 += ideal * ideal;
      max_err = std::max(max_err, std::abs(sim - ideal));
      max_ideal = std::max(max_ideal, std::abs(ideal));
      se_mac += (pre - pre_ideal) * (pre - pre_ideal);
      max_err_mac = std::max(max_err_mac, std::abs(pre - pre_ideal));
      max_ideal_mac = std::max(max_ideal_mac, std::abs(pre_ideal));
    }
  }
  EXPECT_EQ(negative, 1);  // the ReLU case differs from the linear one
  auto near = [](double got, double want) { return std::abs(got - want) <= 1e-9 * std::abs(want); };
  EXPECT_TRUE(near(rep.rmse, std::sqrt(se / 4))) << rep.rmse;
  EXPECT_TRUE(near(rep.ideal_rms, std::sqrt(ref2 / 4))) << rep.ideal_rms;
  EXPECT_TRUE(near(rep.max_abs_error, max_err)) << rep.max_abs_error;
  EXPECT_TRUE(near(rep.max_rel_error, max_err / max_ideal)) << rep.max_rel_error;
  EXPECT_TRUE(near(rep.mac_rmse, std::sqrt(se_mac / 4))) << rep.mac_rmse;
  EXPECT_TRUE(near(rep.mac_max_rel_error, max_err_mac / max_ideal_mac)) << rep.mac_max_rel_error;
  // Health: the tile's direct solve and its transfer matrix agree to rounding.
  EXPECT_GT(rep.worst_residual, 0.0);
  EXPECT_LT(rep.worst_residual, 1e-14);
  EXPECT_GE(rep.worst_transfer_check, 0.0);
  EXPECT_LT(rep.worst_transfer_check, 1e-12);
  EXPECT_NE(rep.tiles[0].health.method.find("Schur complement"), std::string::npos);
  EXPECT_EQ(rep.backend, "cholmod");

  // Error by column: RMS over the inputs of (I - I_ideal) / RMS of I_ideal.
  ASSERT_EQ(rep.error_by_column.size(), 4u);
  for (int j = 0; j < 4; ++j) {
    const double e = (current.col(j) - ideal_current.col(j)).norm() / ideal_current.col(j).norm();
    EXPECT_TRUE(near(rep.error_by_column[j], e)) << j << ": " << rep.error_by_column[j];
  }
  // Loss by row: the share of row i's ideal current that does not reach the neurons.
  ASSERT_EQ(rep.loss_by_row.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const double loss = 1.0 - t.col(i).sum() / g.row(i).sum();
    EXPECT_GT(loss, 0.0);  // parasitics lose current, never create it
    EXPECT_TRUE(near(rep.loss_by_row[i], loss)) << i << ": " << rep.loss_by_row[i];
  }
  // IR drop for the full-scale input (every used row at v_read = 0.2 V).
  const testing::MnaSolution full =
      testing::reference_mna_solution(tile, Eigen::MatrixXd::Constant(1, 3, 0.2));
  const Eigen::MatrixXd drop = (0.2 - (full.word[0] - full.bit[0]).array()).matrix() / 0.2;
  EXPECT_TRUE(near(rep.worst_ir_drop_fraction, drop.maxCoeff())) << rep.worst_ir_drop_fraction;
  EXPECT_TRUE(near(rep.mean_ir_drop_fraction, drop.mean())) << rep.mean_ir_drop_fraction;
  ASSERT_EQ(rep.tiles.size(), 1u);
  EXPECT_TRUE(
      near(rep.tiles[0].current_error, (current - ideal_current).norm() / ideal_current.norm()));
  EXPECT_EQ(rep.adc_conversions, 4);
}

TEST(Oracle, EveryReportedMetricAgainstTheMnaOracle) {
  check_every_metric(mapping::Activation::kNone);
  check_every_metric(mapping::Activation::kRelu);
}

// Loss by row is averaged over the tiles that use the row: 5 inputs on 3-row arrays make a
// 3-row tile and a 2-row tile, so row 2 has one tile and rows 0 and 1 have two.
TEST(Oracle, LossByRowIsPooledOverTheTilesThatUseTheRow) {
  const std::vector<double> w{0.5, -1.0, 0.25, 0.75, -0.5, 1.0, 0.5, -0.75, 0.3, 0.9};
  const Tensor x = matrix(1, 5, {1.0, 0.5, 0.25, 0.75, 0.5});
  const mapping::Layer layer = dense_layer(w, 2, 5, {}, x);
  SimulationOptions o;
  o.mapping.array = {3, 4};
  o.parasitics = {50.0, 3.0, 4.0, 60.0};
  o.ir_drop = false;
  auto r = mapping::simulate(layer, x, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r.value().report.tiles.size(), 2u);
  // Tile t holds inputs [3t, 3t + nk) in rows 0..nk-1; unused cells at G_min.
  std::vector<Eigen::VectorXd> loss;
  for (int t = 0; t < 2; ++t) {
    Eigen::MatrixXd g = Eigen::MatrixXd::Constant(3, 4, 1e-5);
    const int nk = t == 0 ? 3 : 2;
    for (int k = 0; k < nk; ++k) {
      for (int m = 0; m < 2; ++m) {
        g(k, 2 * m) = 1e-5 + 9e-5 * std::max(w[m * 5 + 3 * t + k], 0.0);
        g(k, 2 * m + 1) = 1e-5 + 9e-5 * std::max(-w[m * 5 + 3 * t + k], 0.0);
      }
    }
    const Eigen::MatrixXd tm =
        testing::reference_mna(netlists::Crossbar::uniform(g, 50.0, 3.0, 4.0, 60.0),
                               Eigen::MatrixXd::Identity(3, 3))
            .transpose();
    Eigen::VectorXd l(3);
    for (int i = 0; i < 3; ++i) l(i) = 1.0 - tm.col(i).sum() / g.row(i).sum();
    loss.push_back(l);
  }
  const std::vector<double>& got = r.value().report.loss_by_row;
  EXPECT_NEAR(got[0], 0.5 * (loss[0](0) + loss[1](0)), 1e-9 * loss[0](0));
  EXPECT_NEAR(got[1], 0.5 * (loss[0](1) + loss[1](1)), 1e-9 * loss[0](1));
  EXPECT_NEAR(got[2], loss[0](2), 1e-9 * loss[0](2));  // row 2 is used by tile 0 only
  EXPECT_FALSE(r.value().report.ir_drop_mapped);
  EXPECT_GE(r.value().report.worst_transfer_check, 0.0);  // the self-check ran instead
  EXPECT_LT(r.value().report.worst_transfer_check, 1e-12);
}

// Reference column: the tile uses columns 0..nm-1 and C-1; the unused columns (held at G_min)
// enter neither the error by column nor the IR-drop figures.
TEST(Oracle, ReferenceColumnMetricsUseOnlyTheUsedColumns) {
  const std::vector<double> w{0.5, -1.0, 0.25, 1.0, 0.5, -0.75, -0.2, 0.9};  // 2 x 4
  const Tensor x = matrix(2, 4, {1.0, 0.5, 0.25, 0.75, 0.2, 1.0, 0.6, 0.1});
  const mapping::Layer layer = dense_layer(w, 2, 4, {}, x);
  SimulationOptions o;
  o.mapping.array = {4, 6};  // 5 outputs per array: columns 0, 1 used, 2..4 unused, 5 reference
  o.device.sign = SignScheme::kReference;
  o.parasitics = {50.0, 3.0, 4.0, 60.0};
  auto r = mapping::simulate(layer, x, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const mapping::LayerReport& rep = r.value().report;
  // G_ref = 5.5e-5 S, a = 9e-5 / 2 S per unit (w_max = 1); unused cells at G_min = 1e-5 S.
  Eigen::MatrixXd g = Eigen::MatrixXd::Constant(4, 6, 1e-5);
  for (int k = 0; k < 4; ++k) {
    for (int m = 0; m < 2; ++m) g(k, m) = 5.5e-5 + 4.5e-5 * w[m * 4 + k];
    g(k, 5) = 5.5e-5;
  }
  const netlists::Crossbar tile = netlists::Crossbar::uniform(g, 50.0, 3.0, 4.0, 60.0);
  const testing::MnaSolution full =
      testing::reference_mna_solution(tile, Eigen::MatrixXd::Constant(1, 4, 0.2));
  const Eigen::MatrixXd drop = (0.2 - (full.word[0] - full.bit[0]).array()).matrix() / 0.2;
  double worst = 0.0, sum = 0.0;
  for (int i = 0; i < 4; ++i) {
    for (int j : {0, 1, 5}) {
      worst = std::max(worst, drop(i, j));
      sum += drop(i, j);
    }
  }
  EXPECT_NEAR(rep.tiles[0].worst_ir_drop, worst, 1e-9 * worst);
  EXPECT_NEAR(rep.tiles[0].mean_ir_drop, sum / 12.0, 1e-9 * sum / 12.0);
  for (int j : {2, 3, 4}) EXPECT_EQ(rep.error_by_column[j], 0.0) << j;
  for (int j : {0, 1, 5}) EXPECT_GT(rep.error_by_column[j], 0.0) << j;
  // The reference column's own error is visible: its current is what every output subtracts.
  Eigen::MatrixXd v(2, 4);
  v << 0.2, 0.1, 0.05, 0.15, 0.04, 0.2, 0.12, 0.02;
  const Eigen::MatrixXd current = testing::reference_mna(tile, v);
  const Eigen::MatrixXd ideal = v * g;
  EXPECT_NEAR(rep.error_by_column[5], (current.col(5) - ideal.col(5)).norm() / ideal.col(5).norm(),
              1e-9);
}

}  // namespace
}  // namespace xbarnet
