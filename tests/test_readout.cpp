// The read side of a layer simulation: ADC ranges (never from the evaluated batch), clipping,
// energy, bit-serial inputs, and real devices in the pipeline.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "corrections/corrections.hpp"
#include "mapping/experiments.hpp"
#include "mapping/simulate.hpp"
#include "mapping_util.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using mapping::SimulationOptions;
using mapping::Tensor;

using testing::random_tensor;

// A dense layer of 40 outputs on 100 inputs (one 128 x 128 array), a batch of `batch`.
struct DenseCase {
  mapping::Layer layer;
  Tensor input;
};
DenseCase dense_case(std::uint64_t seed, std::int64_t batch, double x_lo = 0.0) {
  std::mt19937_64 rng(seed);
  DenseCase c;
  c.input = random_tensor(rng, {batch, 100}, x_lo, 1.0);
  Tensor w = random_tensor(rng, {40, 100}, -1.0, 1.0);
  c.layer = mapping::make_layer(mapping::LayerKind::kDense, std::move(w), {}, 1, 0,
                                mapping::Activation::kNone, c.input)
                .value();
  return c;
}

// The first `n` input vectors of a batch.
Tensor head(const Tensor& t, std::int64_t n) {
  Tensor h;
  h.shape = t.shape;
  h.shape[0] = n;
  const auto per = static_cast<size_t>(t.size() / t.dim(0));
  h.data.assign(t.data.begin(), t.data.begin() + static_cast<std::ptrdiff_t>(per * n));
  return h;
}

SimulationOptions parasitic_options() {
  SimulationOptions o;
  o.mapping.array = {128, 128};
  o.parasitics = {10.0, 2.5, 2.5, 10.0};
  o.device.r_lrs = 100e3;
  o.device.r_hrs = 1e6;
  o.ir_drop = false;
  return o;
}

TEST(Readout, BitSerialInputsEqualAnalogInputsOnIdealArraysWithAnIdealAdc) {
  // Inputs on the 5-bit sign-and-magnitude grid (m / 31, |m| <= 31, one of them 31): the bit
  // planes are exact, so the shifted and added reads equal one analog read of the same inputs.
  for (const bool with_negatives : {false, true}) {
    DenseCase c = dense_case(3, 5);
    std::mt19937_64 rng(12);
    for (double& x : c.input.data) {
      const double m = std::floor(testing::uniform(rng, with_negatives ? -31.0 : 0.0, 32.0));
      x = std::min(m, 31.0) / 31.0;
    }
    c.input.data[7] = 1.0;
    SimulationOptions o;
    o.mapping.array = {128, 128};
    auto analog = mapping::simulate(c.layer, c.input, o);
    o.device.input_bits = 5;
    o.device.input_encoding = devices::InputEncoding::kBitSerial;
    auto serial = mapping::simulate(c.layer, c.input, o);
    ASSERT_TRUE(analog.is_ok() && serial.is_ok()) << serial.status().to_string();
    const Tensor& a = analog.value().simulated;
    const Tensor& s = serial.value().simulated;
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      worst = std::max(worst, std::abs(a.data[i] - s.data[i]));
      scale = std::max(scale, std::abs(a.data[i]));
    }
    EXPECT_LT(worst, 1e-12 * scale) << "negatives " << with_negatives;
    // 5 reads per vector, and a second pass for the negative inputs.
    const std::int64_t passes = with_negatives ? 2 : 1;
    EXPECT_EQ(serial.value().report.adc_conversions,
              5 * passes * analog.value().report.adc_conversions);
  }
}

TEST(Readout, BitSerialInputsOnRealArraysMatchAnalogInputs) {
  // Linear arrays: the shifted and added reads equal one analog read (ideal ADC).
  const DenseCase c = dense_case(4, 3);
  SimulationOptions o = parasitic_options();
  o.device.input_bits = 4;
  auto analog = mapping::simulate(c.layer, c.input, o);
  o.device.input_encoding = devices::InputEncoding::kBitSerial;
  auto serial = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(analog.is_ok() && serial.is_ok());
  EXPECT_GT(analog.value().report.relative_rmse, 1e-3);  // the parasitics matter here
  EXPECT_NEAR(serial.value().report.relative_rmse, analog.value().report.relative_rmse, 1e-9);
}

TEST(Readout, TheAdcRangeDoesNotDependOnTheEvaluatedBatch) {
  const DenseCase c = dense_case(5, 6);
  const DenseCase cal = dense_case(6, 8);  // another batch of the same layer's inputs
  SimulationOptions o = parasitic_options();
  o.device.adc_bits = 4;
  for (const devices::AdcRange range : {devices::AdcRange::kBound, devices::AdcRange::kCalibrated,
                                        devices::AdcRange::kPercentile}) {
    o.adc.range = range;
    o.adc.percentile = 95.0;
    auto whole = mapping::simulate(c.layer, c.input, o, {}, &cal.input);
    auto first = mapping::simulate(c.layer, head(c.input, 1), o, {}, &cal.input);
    ASSERT_TRUE(whole.is_ok() && first.is_ok()) << whole.status().to_string();
    // The first input's outputs, alone or in a batch of 6, are the same bits.
    for (size_t m = 0; m < 40; ++m) {
      EXPECT_EQ(first.value().simulated.data[m], whole.value().simulated.data[m])
          << devices::to_string(range) << " output " << m;
    }
    EXPECT_EQ(first.value().report.adc_full_scale_max, whole.value().report.adc_full_scale_max);
  }
}

TEST(Readout, AdcRangesAndClipping) {
  const DenseCase c = dense_case(7, 4);
  const DenseCase cal = dense_case(8, 4);
  SimulationOptions o = parasitic_options();
  o.device.adc_bits = 6;
  // bound: the array's largest read-out, 100 rows x v_read x (G_max - G_min); never clips.
  auto bound = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(bound.is_ok());
  EXPECT_NEAR(bound.value().report.adc_full_scale_max, 100 * 0.2 * (1e-5 - 1e-6), 1e-18);
  EXPECT_EQ(bound.value().report.adc_clipped, 0);
  EXPECT_EQ(bound.value().report.adc_conversions, 4 * 40);
  // calibrated on its own batch: the largest read-out sits inside the range (max |y| = FS
  // quantizes to the top level, not clipped).
  o.adc.range = devices::AdcRange::kCalibrated;
  auto self = mapping::simulate(c.layer, c.input, o, {}, &c.input);
  ASSERT_TRUE(self.is_ok());
  EXPECT_EQ(self.value().report.adc_clipped, 0);
  EXPECT_LT(self.value().report.adc_full_scale_max, bound.value().report.adc_full_scale_max);
  // A finer range gives a smaller error than the bound, with the same bits.
  EXPECT_LT(self.value().report.relative_rmse, bound.value().report.relative_rmse);
  // percentile 50 of another batch: about half the read-outs clip.
  o.adc.range = devices::AdcRange::kPercentile;
  o.adc.percentile = 50.0;
  auto half = mapping::simulate(c.layer, c.input, o, {}, &cal.input);
  ASSERT_TRUE(half.is_ok());
  const double clipped = static_cast<double>(half.value().report.adc_clipped) / (4 * 40);
  EXPECT_GT(clipped, 0.25);
  EXPECT_LT(clipped, 0.75);
  // The quantization step of a fixed range: 2 FS / 2^bits, outputs at the step's middles.
  o.adc.range = devices::AdcRange::kFixed;
  o.adc.full_scale = 1e-3;  // far above every read-out: all in the two middle levels
  auto coarse = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(coarse.is_ok());
  EXPECT_EQ(coarse.value().report.adc_clipped, 0);
  // A range that clips everything is refused, naming the key.
  o.adc.full_scale = 1e-15;
  auto none = mapping::simulate(c.layer, c.input, o);
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("clips every one"), std::string::npos);
  EXPECT_NE(none.status().message().find("'fixed'"), std::string::npos);
  // Calibrated ranges need a calibration batch: never the evaluated batch's own outputs.
  o.adc.range = devices::AdcRange::kCalibrated;
  auto missing = mapping::simulate(c.layer, c.input, o);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("needs a calibration batch"), std::string::npos);
}

TEST(Readout, AdcEnergyIsConversionsTimesTheModel) {
  const DenseCase c = dense_case(9, 3);
  SimulationOptions o = parasitic_options();
  o.device.adc_bits = 5;
  auto r = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(r.is_ok());
  // flash: E_1 (2^5 - 1) per conversion, E_1 = 2.2 mW / 1.75 GS/s / 31.
  EXPECT_NEAR(r.value().report.adc_energy, 3 * 40 * 31 * (2.2e-3 / 1.75e9 / 31), 1e-24);
  o.adc.energy_model = devices::AdcEnergyModel::kWalden;
  o.adc.walden_fom = 1e-15;
  auto w = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(w.is_ok());
  EXPECT_NEAR(w.value().report.adc_energy, 3 * 40 * 32 * 1e-15, 1e-27);
}

TEST(Readout, SplitWithSenseAmplifiersAgainstPartialSumsEnergy) {
  // Kim et al.: input splitting with 1-bit sense amplifiers against partial sums digitised by
  // an N-bit ADC. In the flash model the energy ratio per conversion is (2^N - 1) / 1, times the
  // ratio of the conversion counts.
  std::mt19937_64 rng(10);
  Tensor x = random_tensor(rng, {2, 300}, -1.0, 1.0);
  Tensor w = random_tensor(rng, {20, 300}, -1.0, 1.0);
  auto layer = mapping::make_layer(mapping::LayerKind::kDense, std::move(w), {}, 1, 0,
                                   mapping::Activation::kSign, x);
  ASSERT_TRUE(layer.is_ok());
  SimulationOptions o = parasitic_options();
  o.mapping.scheme = mapping::Scheme::kInputSplit;
  o.mapping.merge = mapping::Merge::kMajority;
  o.device.adc_bits = 1;
  o.mapping.baseline_adc_bits = 5;
  auto split = mapping::simulate(layer.value(), x, o);
  ASSERT_TRUE(split.is_ok());
  auto cmp = mapping::compare_with_partial_sums(layer.value(), x, o, split.value().report);
  ASSERT_TRUE(cmp.is_ok());
  ASSERT_TRUE(cmp.value().energy_ratio.has_value());
  const double conversions_ratio = static_cast<double>(cmp.value().baseline.adc_conversions) /
                                   static_cast<double>(split.value().report.adc_conversions);
  EXPECT_NEAR(*cmp.value().energy_ratio, 31.0 * conversions_ratio, 1e-9);
}

TEST(Readout, RealDevicesAreReproducibleAndIndependentOfTheThreadCount) {
  const DenseCase c = dense_case(11, 4);
  SimulationOptions o = parasitic_options();
  o.mapping.array = {32, 32};  // many tiles
  o.variation.distribution = devices::VariationDistribution::kLognormal;
  o.variation.sigma_lrs = 0.05;
  o.variation.sigma_hrs = 0.2;
  o.variation.stuck_hrs_rate = 0.02;
  o.variation.read_noise = 0.01;
  o.variation.seed = 42;
  o.threads = 1;
  auto one = mapping::simulate(c.layer, c.input, o);
  o.threads = 2;
  auto two = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(one.is_ok() && two.is_ok()) << one.status().to_string();
  EXPECT_EQ(one.value().simulated.data, two.value().simulated.data);
  const auto& st = one.value().report.programming_stats;
  EXPECT_EQ(st.cells, static_cast<std::int64_t>(one.value().report.tiles.size()) * 32 * 32);
  // 2 % stuck at HRS, within 5 binomial standard errors.
  const double n = static_cast<double>(st.cells);
  EXPECT_NEAR(static_cast<double>(st.stuck_hrs) / n, 0.02, 5 * std::sqrt(0.02 * 0.98 / n));
  // Variation, defects and noise make it worse than the parasitics alone; another seed differs.
  SimulationOptions clean = parasitic_options();
  clean.mapping.array = {32, 32};
  auto base = mapping::simulate(c.layer, c.input, clean);
  ASSERT_TRUE(base.is_ok());
  EXPECT_GT(one.value().report.relative_rmse, base.value().report.relative_rmse);
  o.variation.seed = 43;
  auto other = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(other.is_ok());
  EXPECT_NE(other.value().simulated.data, one.value().simulated.data);
  // The ideal reference never sees the devices.
  EXPECT_EQ(one.value().ideal.data, base.value().ideal.data);
}

TEST(Readout, TheCalibrationBatchFixesTheInputScaleAndCountsWhatItCannotHold) {
  const DenseCase c = dense_case(13, 4, -1.0);  // signed inputs
  DenseCase cal = dense_case(14, 4);            // a calibration batch without negative inputs
  for (double& x : cal.input.data) x *= 0.5;    // and half the range
  SimulationOptions o;
  o.mapping.array = {128, 128};
  o.device.input_bits = 4;
  auto r = mapping::simulate(c.layer, c.input, o, {}, &cal.input);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  // Every input below 0 or above the calibration's largest |x| is counted.
  std::int64_t expected = 0;
  double x_max = 0.0;
  for (double x : cal.input.data) x_max = std::max(x_max, std::abs(x));
  for (double x : c.input.data) expected += (x < 0.0 || x > x_max) ? 1 : 0;
  EXPECT_GT(expected, 100);
  EXPECT_EQ(r.value().report.inputs_clipped, expected);
  EXPECT_EQ(r.value().report.x_max, x_max);
  // An all-zero calibration batch gives no scale: refused.
  for (double& x : cal.input.data) x = 0.0;
  auto zero = mapping::simulate(c.layer, c.input, o, {}, &cal.input);
  ASSERT_FALSE(zero.is_ok());
  EXPECT_NE(zero.status().message().find("calibration batch is all zeros"), std::string::npos);
}

TEST(Readout, CorrectionsThatCannotApplyAreRefused) {
  const DenseCase c = dense_case(15, 2);
  SimulationOptions o = parasitic_options();
  // Drivers so weak that no programmed conductance makes up the loss: refused, never NaN.
  o.parasitics.r_source = 1e6;
  o.device.r_lrs = 1e3;
  o.device.r_hrs = 1e4;
  for (const corrections::Scheme s :
       {corrections::Scheme::kPredistortion, corrections::Scheme::kExactCompensation}) {
    o.correction.scheme = s;
    auto r = mapping::simulate(c.layer, c.input, o);
    ASSERT_FALSE(r.is_ok()) << corrections::to_string(s);
    EXPECT_NE(r.status().message().find("no target scale beta"), std::string::npos)
        << r.status().message();
  }
  // A programming-side correction on ideal arrays would only make them wrong.
  o = parasitic_options();
  o.ideal_only = true;
  o.correction.scheme = corrections::Scheme::kPredistortion;
  auto ideal = mapping::simulate(c.layer, c.input, o);
  ASSERT_FALSE(ideal.is_ok());
  EXPECT_NE(ideal.status().message().find("ideal_only"), std::string::npos);
}

TEST(Readout, AWriteSideCorrectionsGainAmplifiesTheReadNoise) {
  // The target scale beta < 1 is undone by 1/beta after the read: the read noise of the cells
  // (before the gain) comes out amplified by 1/beta, relative to the signal.
  const DenseCase c = dense_case(16, 8);
  SimulationOptions o = parasitic_options();
  o.parasitics = {500.0, 2.5, 2.5, 500.0};  // a drop large enough for beta < 1
  o.correction.scheme = corrections::Scheme::kPredistortion;
  auto quiet = mapping::simulate(c.layer, c.input, o);
  o.variation.read_noise = 0.05;
  auto noisy = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(quiet.is_ok() && noisy.is_ok()) << noisy.status().to_string();
  const double beta = noisy.value().report.correction.beta_min;
  ASSERT_LT(beta, 0.7);  // (0.66 here: the gain 1/beta is 1.5)
  // The noise's share of the outputs: RMS(noisy - quiet) / RMS(ideal).
  double d2 = 0.0, ref2 = 0.0;
  for (size_t i = 0; i < quiet.value().simulated.data.size(); ++i) {
    const double d = noisy.value().simulated.data[i] - quiet.value().simulated.data[i];
    d2 += d * d;
    ref2 += quiet.value().ideal.data[i] * quiet.value().ideal.data[i];
  }
  // Without a gain it would be about read_noise x RMS(sqrt(sum (G v)^2)) / RMS(sum G v), which
  // for 100 rows of similar terms is ~0.05 / sqrt(100) x (a factor of order 1); amplified by
  // 1/beta it is larger than that bound by the gain. Check against the same run uncorrected.
  o.correction.scheme = corrections::Scheme::kNone;
  auto plain_quiet = mapping::simulate(c.layer, c.input, o);
  o.variation.read_noise = 0.0;
  auto plain = mapping::simulate(c.layer, c.input, o);
  ASSERT_TRUE(plain_quiet.is_ok() && plain.is_ok());
  double p2 = 0.0;
  for (size_t i = 0; i < plain.value().simulated.data.size(); ++i) {
    const double d = plain_quiet.value().simulated.data[i] - plain.value().simulated.data[i];
    p2 += d * d;
  }
  // Uncorrected, the noise rides on the attenuated currents (scaled by about beta); corrected,
  // the gain 1/beta brings signal and noise back together: the noise in output units grows by
  // about 1/beta.
  const double ratio = std::sqrt(d2 / p2);
  EXPECT_GT(ratio, 0.85 / beta) << "beta " << beta;
  EXPECT_LT(ratio, 1.15 / beta) << "ratio " << ratio;
  EXPECT_GT(ref2, 0.0);
}

}  // namespace
}  // namespace xbarnet
