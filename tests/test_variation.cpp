// Device non-idealities (devices/variation.hpp) and ADC ranges and energy (devices/adc.hpp).
//
// Statistical checks compare a sample with the model's own closed form within kSe = 5 standard
// errors of the sample statistic (mean: sd / sqrt(N); variance: sqrt((m4 - m2^2) / N) from the
// sample's own moments; binomial counts: sqrt(N p (1 - p))). The draws are deterministic (fixed
// seeds), so a pass is reproducible; 5 standard errors make a false alarm of a correct model
// improbable (~6e-7 per check) while a wrong mean or sigma of a few percent fails.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "core/random.hpp"
#include "devices/adc.hpp"
#include "devices/variation.hpp"

namespace xbarnet {
namespace {

using devices::ProgrammingStats;
using devices::VariationDistribution;
using devices::VariationParams;

constexpr double kSe = 5.0;  // tolerance in standard errors
constexpr double kGMin = 1e-5;
constexpr double kGMax = 1e-4;

struct Moments {
  double n = 0, mean = 0, var = 0, var_se = 0;
};

Moments moments(const Eigen::MatrixXd& x) {
  Moments m;
  m.n = static_cast<double>(x.size());
  m.mean = x.mean();
  const Eigen::ArrayXXd d = x.array() - m.mean;
  const double m2 = d.square().mean();
  const double m4 = d.square().square().mean();
  m.var = m2 * m.n / (m.n - 1.0);
  m.var_se = std::sqrt((m4 - m2 * m2) / m.n);
  return m;
}

Eigen::MatrixXd program(const Eigen::MatrixXd& target, const VariationParams& p,
                        std::uint64_t stream = 0, ProgrammingStats* stats = nullptr) {
  EXPECT_TRUE(devices::validate(p).is_ok()) << devices::validate(p).message();
  return devices::program_conductances(target, kGMin, kGMax, p, stream, stats);
}

// Mean and relative variance of a 256 x 256 tile programmed at `gt` against the closed forms.
void expect_moments(VariationDistribution dist, double gt, double s, double s_lrs, double s_hrs) {
  VariationParams p;
  p.distribution = dist;
  p.sigma_lrs = s_lrs;
  p.sigma_hrs = s_hrs;
  p.seed = 11;
  const Eigen::MatrixXd g = program(Eigen::MatrixXd::Constant(256, 256, gt), p, 3) / gt;
  const Moments m = moments(g);
  // Relative variance of the model: s^2 (normal), exp(s^2) - 1 (mean-preserving lognormal).
  const double var = dist == VariationDistribution::kNormal ? s * s : std::expm1(s * s);
  SCOPED_TRACE(testing::Message() << devices::to_string(dist) << " G_t = " << gt << " s = " << s);
  EXPECT_NEAR(m.mean, 1.0, kSe * std::sqrt(var / m.n));
  EXPECT_NEAR(m.var, var, kSe * m.var_se);
  EXPECT_GT(g.minCoeff(), 0.0);
}

TEST(Variation, NormalMomentsAtLrsHrsAndBetween) {
  expect_moments(VariationDistribution::kNormal, kGMax, 0.05, 0.05, 0.25);
  expect_moments(VariationDistribution::kNormal, kGMin, 0.25, 0.05, 0.25);
  // Halfway in G: the sigma is halfway (linear interpolation in G).
  expect_moments(VariationDistribution::kNormal, 0.5 * (kGMin + kGMax), 0.15, 0.05, 0.25);
  expect_moments(VariationDistribution::kNormal, kGMax, 0.2, 0.2, 0.02);
}

TEST(Variation, LognormalIsMeanPreserving) {
  expect_moments(VariationDistribution::kLognormal, kGMax, 0.1, 0.1, 0.5);
  expect_moments(VariationDistribution::kLognormal, kGMin, 0.5, 0.1, 0.5);
  expect_moments(VariationDistribution::kLognormal, kGMin + 0.25 * (kGMax - kGMin), 0.4, 0.1, 0.5);
  // The median is G_t exp(-s^2 / 2): log G has mean -s^2/2 and sd s.
  VariationParams p;
  p.distribution = VariationDistribution::kLognormal;
  p.sigma_lrs = p.sigma_hrs = 0.6;
  const Eigen::MatrixXd lg =
      program(Eigen::MatrixXd::Constant(256, 256, kGMax), p).unaryExpr([](double g) {
        return std::log(g / kGMax);
      });
  const Moments m = moments(lg);
  EXPECT_NEAR(m.mean, -0.18, kSe * 0.6 / std::sqrt(m.n));
  EXPECT_NEAR(m.var, 0.36, kSe * m.var_se);
}

TEST(Variation, NoneIsExactAndNeverNegative) {
  const Eigen::MatrixXd target = Eigen::MatrixXd::Random(40, 30).array().abs() * kGMax + kGMin;
  ProgrammingStats stats;
  EXPECT_EQ(program(target, VariationParams{}, 5, &stats), target);
  EXPECT_EQ(stats.cells, 1200);
  EXPECT_EQ(stats.verify_pulses, 0);
  // Huge sigmas: a normal draw is below zero about half the time; it is clipped at the floor.
  for (VariationDistribution d :
       {VariationDistribution::kNormal, VariationDistribution::kLognormal}) {
    VariationParams p;
    p.distribution = d;
    p.sigma_lrs = p.sigma_hrs = 10.0;
    p.g_floor_ratio = 0.1;
    const Eigen::MatrixXd g = program(Eigen::MatrixXd::Constant(128, 128, kGMin), p, 1);
    EXPECT_TRUE(g.allFinite());
    EXPECT_EQ(g.minCoeff(), 0.1 * kGMin) << devices::to_string(d);
  }
}

TEST(Variation, StuckRatesAreBinomial) {
  VariationParams p;
  p.stuck_lrs_rate = 0.05;
  p.stuck_hrs_rate = 0.1;
  p.seed = 99;
  const double gt = 0.5 * (kGMin + kGMax);
  ProgrammingStats stats;
  const Eigen::MatrixXd g = program(Eigen::MatrixXd::Constant(256, 256, gt), p, 7, &stats);
  const double n = 65536.0;
  EXPECT_EQ(stats.cells, 65536);
  EXPECT_NEAR(static_cast<double>(stats.stuck_lrs), n * 0.05, kSe * std::sqrt(n * 0.05 * 0.95));
  EXPECT_NEAR(static_cast<double>(stats.stuck_hrs), n * 0.1, kSe * std::sqrt(n * 0.1 * 0.9));
  EXPECT_EQ((g.array() == kGMax).count(), stats.stuck_lrs);
  EXPECT_EQ((g.array() == kGMin).count(), stats.stuck_hrs);
  EXPECT_EQ((g.array() == gt).count(), 65536 - stats.stuck_lrs - stats.stuck_hrs);
  // Every cell stuck, half and half at most: the exclusive rates may sum to 1.
  p.stuck_lrs_rate = 0.3;
  p.stuck_hrs_rate = 0.7;
  ProgrammingStats all;
  const Eigen::MatrixXd h = program(Eigen::MatrixXd::Constant(64, 64, gt), p, 7, &all);
  EXPECT_EQ(all.stuck_lrs + all.stuck_hrs, 4096);
  EXPECT_EQ((h.array() == kGMax).count() + (h.array() == kGMin).count(), 4096);
}

// Mean and variance of min(X, M), X geometric on 1, 2, ... with success probability q.
std::pair<double, double> truncated_geometric(double q, int m) {
  double e1 = 0.0, e2 = 0.0, reach = 1.0;  // reach = P(X >= k)
  for (int k = 1; k < m; ++k) {
    e1 += k * reach * q;
    e2 += double(k) * k * reach * q;
    reach *= 1.0 - q;
  }
  e1 += m * reach;
  e2 += double(m) * m * reach;
  return {e1, e2 - e1 * e1};
}

TEST(Variation, WriteVerifyKeepsCellsInTheBandAndCostsTheExpectedPulses) {
  VariationParams p;
  p.distribution = VariationDistribution::kNormal;
  p.sigma_lrs = p.sigma_hrs = 0.1;
  p.write_verify_tolerance = 0.05;
  p.max_verify_pulses = 1000;
  const Eigen::MatrixXd target = Eigen::MatrixXd::Constant(256, 256, kGMax);
  ProgrammingStats stats;
  const Eigen::MatrixXd g = program(target, p, 2, &stats);
  EXPECT_LE(((g - target).array().abs() / target.array()).maxCoeff(), 0.05);
  EXPECT_EQ(stats.out_of_band, 0);
  // P(|n| <= tol / sigma) per pulse: mean pulses 1 / P (the truncation at 1000 is negligible).
  const double q = std::erf(0.05 / 0.1 / std::sqrt(2.0));
  const double n = 65536.0;
  {
    const auto [mean, var] = truncated_geometric(q, 1000);
    EXPECT_NEAR(mean, 1.0 / q, 1e-12);
    EXPECT_NEAR(static_cast<double>(stats.verify_pulses) / n, mean, kSe * std::sqrt(var / n));
  }
  // Few pulses: some cells stay out of the band, counted; the mean is the truncated one.
  p.max_verify_pulses = 3;
  ProgrammingStats few;
  const Eigen::MatrixXd h = program(target, p, 2, &few);
  const auto [mean, var] = truncated_geometric(q, 3);
  EXPECT_NEAR(static_cast<double>(few.verify_pulses) / n, mean, kSe * std::sqrt(var / n));
  const double miss = std::pow(1.0 - q, 3);
  EXPECT_NEAR(static_cast<double>(few.out_of_band), n * miss,
              kSe * std::sqrt(n * miss * (1 - miss)));
  EXPECT_EQ(((h - target).array().abs() > 0.05 * target.array()).count(), few.out_of_band);
  // Stuck cells cannot be verified into the band: they spend every pulse.
  VariationParams s;
  s.stuck_hrs_rate = 1.0;
  s.write_verify_tolerance = 0.1;
  s.max_verify_pulses = 7;
  ProgrammingStats stuck;
  program(Eigen::MatrixXd::Constant(4, 5, kGMax), s, 0, &stuck);
  EXPECT_EQ(stuck.out_of_band, 20);
  EXPECT_EQ(stuck.verify_pulses, 140);
  // Without variation every cell lands in one pulse.
  s.stuck_hrs_rate = 0.0;
  ProgrammingStats exact;
  program(Eigen::MatrixXd::Constant(4, 5, kGMax), s, 0, &exact);
  EXPECT_EQ(exact.verify_pulses, 20);
  EXPECT_EQ(exact.out_of_band, 0);
}

TEST(Variation, DrawsDependOnlyOnSeedStreamAndCell) {
  VariationParams p;
  p.distribution = VariationDistribution::kLognormal;
  p.sigma_lrs = 0.1;
  p.sigma_hrs = 0.3;
  p.stuck_lrs_rate = 0.01;
  p.stuck_hrs_rate = 0.02;
  p.write_verify_tolerance = 0.1;
  p.seed = 1234;
  const int tiles = 8;
  const Eigen::MatrixXd target =
      (Eigen::MatrixXd::Random(64, 48).array() * 0.5 + 0.5) * (kGMax - kGMin) + kGMin;
  std::vector<Eigen::MatrixXd> forward(tiles), reverse(tiles), threaded(tiles);
  for (int t = 0; t < tiles; ++t) forward[t] = program(target, p, std::uint64_t(t));
  for (int t = tiles - 1; t >= 0; --t) reverse[t] = program(target, p, std::uint64_t(t));
  {
    std::vector<std::thread> pool;
    for (int w = 0; w < 3; ++w) {
      pool.emplace_back([&, w] {
        for (int t = w; t < tiles; t += 3) {
          threaded[t] =
              devices::program_conductances(target, kGMin, kGMax, p, std::uint64_t(t), nullptr);
        }
      });
    }
    for (std::thread& th : pool) th.join();
  }
  for (int t = 0; t < tiles; ++t) {
    EXPECT_EQ(forward[t], reverse[t]) << "tile " << t;  // bit for bit
    EXPECT_EQ(forward[t], threaded[t]) << "tile " << t;
    if (t > 0) {
      EXPECT_NE(forward[t], forward[t - 1]);
    }
  }
  // A cell's draws do not depend on the tile's size or on the other cells.
  const Eigen::MatrixXd corner = program(target.topLeftCorner(20, 10), p, 5);
  EXPECT_EQ(corner, forward[5].topLeftCorner(20, 10));
  // Another seed, another array.
  VariationParams q = p;
  q.seed = 1235;
  EXPECT_NE(program(target, q, 0), forward[0]);
  const double diff = ((program(target, q, 0) - forward[0]).array() != 0.0).cast<double>().mean();
  EXPECT_GT(diff, 0.9);
}

TEST(Variation, ReadNoiseHasTheColumnStd) {
  const Eigen::Index k = 4096, rows = 32, cols = 8;
  core::Rng rng(3);
  Eigen::MatrixXd v(k, rows), g(rows, cols);
  for (Eigen::Index i = 0; i < v.size(); ++i) v.data()[i] = core::uniform(rng, -0.2, 0.2);
  for (Eigen::Index i = 0; i < g.size(); ++i) g.data()[i] = core::uniform(rng, kGMin, kGMax);
  VariationParams p;
  p.read_noise = 0.05;
  p.seed = 8;
  const Eigen::MatrixXd ideal = v * g;
  const Eigen::MatrixXd rms = devices::read_noise_rms(v, g);
  for (Eigen::Index r = 0; r < 5; ++r) {  // the rms, one entry at a time
    double s2 = 0.0;
    for (Eigen::Index i = 0; i < rows; ++i) s2 += std::pow(v(r, i) * g(i, 2), 2);
    EXPECT_NEAR(rms(r, 2), std::sqrt(s2), 1e-12 * std::sqrt(s2));
  }
  Eigen::MatrixXd noisy = ideal;
  devices::add_read_noise(noisy, rms, p, 17);
  const Eigen::MatrixXd z = (noisy - ideal).cwiseQuotient(rms) / p.read_noise;
  const Moments m = moments(z);
  EXPECT_NEAR(m.mean, 0.0, kSe / std::sqrt(m.n));
  EXPECT_NEAR(m.var, 1.0, kSe * m.var_se);
  // Chunks that pass their first input index draw what one call draws.
  Eigen::MatrixXd top = ideal.topRows(1000), bottom = ideal.bottomRows(k - 1000);
  devices::add_read_noise(top, rms.topRows(1000), p, 17, 0);
  devices::add_read_noise(bottom, rms.bottomRows(k - 1000), p, 17, 1000);
  EXPECT_EQ(top, noisy.topRows(1000));
  EXPECT_EQ(bottom, noisy.bottomRows(k - 1000));
  // Another stream, other draws; zero read noise, no change.
  Eigen::MatrixXd other = ideal;
  devices::add_read_noise(other, rms, p, 18);
  EXPECT_NE(other, noisy);
  p.read_noise = 0.0;
  Eigen::MatrixXd none = ideal;
  devices::add_read_noise(none, rms, p, 17);
  EXPECT_EQ(none, ideal);
}

TEST(Variation, ReadNoiseMatchesPerCellNoise) {
  // The oracle: draw every cell's conductance at every read, G_ij (1 + s n), and sum.
  const Eigen::Index rows = 16;
  core::Rng rng(5);
  Eigen::VectorXd v(rows), g(rows);
  for (Eigen::Index i = 0; i < rows; ++i) {
    v(i) = core::uniform(rng, 0.0, 0.2);
    g(i) = core::uniform(rng, kGMin, kGMax);
  }
  const double s = 0.1;
  const int trials = 20000;
  Eigen::MatrixXd currents(trials, 1);
  for (int t = 0; t < trials; ++t) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < rows; ++i) sum += g(i) * (1.0 + s * core::normal(rng)) * v(i);
    currents(t, 0) = sum;
  }
  const Moments m = moments(currents);
  const double rms = devices::read_noise_rms(v.transpose(), g)(0, 0);
  EXPECT_NEAR(m.var, s * s * rms * rms, kSe * m.var_se);
  EXPECT_NEAR(m.mean, g.dot(v), kSe * s * rms / std::sqrt(m.n));
}

TEST(Variation, ValidationNamesKeyValueAndRule) {
  auto message = [](const VariationParams& p) { return devices::validate(p).message(); };
  VariationParams p;
  EXPECT_TRUE(devices::validate(p).is_ok());
  p.stuck_lrs_rate = 1.5;
  EXPECT_NE(message(p).find("stuck_lrs_rate = 1.5: must be finite and in 0 .. 1"),
            std::string::npos)
      << message(p);
  p = {};
  p.stuck_hrs_rate = -0.1;
  EXPECT_NE(message(p).find("stuck_hrs_rate = -0.1: must be finite and in 0 .. 1"),
            std::string::npos)
      << message(p);
  p = {};
  p.distribution = VariationDistribution::kNormal;
  p.sigma_lrs = -0.2;
  EXPECT_NE(message(p).find("sigma_lrs = -0.2: must be finite and in 0 .. 10"), std::string::npos)
      << message(p);
  p = {};
  p.stuck_lrs_rate = 0.6;
  p.stuck_hrs_rate = 0.5;
  EXPECT_NE(message(p).find("stuck_lrs_rate + stuck_hrs_rate = 0.6 + 0.5 = 1.1: must be <= 1"),
            std::string::npos)
      << message(p);
  p = {};
  p.sigma_hrs = 0.1;  // distribution 'none' would silently ignore it
  EXPECT_NE(message(p).find("sigma_hrs = 0.1 with distribution = 'none': must be 0"),
            std::string::npos)
      << message(p);
  p = {};
  p.write_verify_tolerance = 1.0;
  EXPECT_NE(message(p).find("write_verify_tolerance = 1: must be finite and in [0, 1)"),
            std::string::npos)
      << message(p);
  p = {};
  p.max_verify_pulses = 0;
  EXPECT_NE(message(p).find("max_verify_pulses = 0: must be an integer in 1 .. 1000000"),
            std::string::npos)
      << message(p);
  // The declaration reads the config's names.
  VariationParams q;
  const auto& table = devices::variation_parameters();
  EXPECT_EQ(table.table(), "variation");
  EXPECT_TRUE(table.set(q, "distribution", core::Value(std::string("lognormal"))).is_ok());
  EXPECT_EQ(q.distribution, VariationDistribution::kLognormal);
  EXPECT_NE(table.set(q, "distribution", core::Value(std::string("gauss")))
                .message()
                .find("distribution = 'gauss': must be one of 'none', 'normal', 'lognormal'"),
            std::string::npos);
  EXPECT_TRUE(table.set(q, "seed", core::Value(std::int64_t{7})).is_ok());
  EXPECT_EQ(q.seed, 7);
  // Seeds are in 0 .. 2^53 (layer k adds k to its config's seed: it never overflows).
  EXPECT_NE(table.set(q, "seed", core::Value(std::int64_t{-7}))
                .message()
                .find("seed = -7: must be an integer in 0 .. 9007199254740992"),
            std::string::npos);
}

TEST(AdcModel, QuantizationStepAndClipFlag) {
  const double fs = 2e-6;
  for (int bits : {1, 3, 6}) {
    const double step = 2.0 * fs / std::ldexp(1.0, bits);
    for (double y = -fs; y <= fs; y += fs / 37.0) {
      bool clipped = true;
      const double q = devices::adc_clip(y, bits, fs, &clipped);
      EXPECT_FALSE(clipped) << y;
      EXPECT_LE(std::abs(q - y), 0.5 * step * (1 + 1e-12)) << bits << " bits, y = " << y;
      // On the grid of level centres (k + 1/2) step.
      const double k = q / step - 0.5;
      EXPECT_NEAR(k, std::round(k), 1e-9);
    }
    bool clipped = false;
    EXPECT_DOUBLE_EQ(devices::adc_clip(1.01 * fs, bits, fs, &clipped), fs - 0.5 * step);
    EXPECT_TRUE(clipped);
    EXPECT_DOUBLE_EQ(devices::adc_clip(-3.0 * fs, bits, fs, &clipped), -fs + 0.5 * step);
    EXPECT_TRUE(clipped);
  }
  // Two levels apart by 2 FS / 2^N: 3 bits over +-1 gives 0.25.
  EXPECT_DOUBLE_EQ(
      devices::adc_clip(0.3, 3, 1.0, nullptr) - devices::adc_clip(0.05, 3, 1.0, nullptr), 0.25);
  bool clipped = true;
  EXPECT_EQ(devices::adc_clip(5.0, 0, 1.0, &clipped), 5.0);  // ideal: no clipping
  EXPECT_FALSE(clipped);
  devices::ClipCount count;
  for (double y : {0.1, 0.9, 1.1, -2.0}) {
    bool c = false;
    devices::adc_clip(y, 4, 1.0, &c);
    count.add(c);
  }
  EXPECT_EQ(count.clipped, 2);
  EXPECT_EQ(count.conversions, 4);
  EXPECT_DOUBLE_EQ(count.fraction(), 0.5);
}

TEST(AdcModel, NearestRankPercentileAndRanges) {
  const std::vector<double> v = {-15.0, 20.0, 35.0, -40.0, 50.0};
  EXPECT_EQ(devices::percentile_abs(v, 5), 15.0);   // rank ceil(0.25) = 1
  EXPECT_EQ(devices::percentile_abs(v, 30), 20.0);  // rank ceil(1.5) = 2
  EXPECT_EQ(devices::percentile_abs(v, 40), 20.0);  // rank 2 exactly
  EXPECT_EQ(devices::percentile_abs(v, 50), 35.0);
  EXPECT_EQ(devices::percentile_abs(v, 100), 50.0);
  EXPECT_EQ(devices::percentile_abs({}, 50), 0.0);
  std::vector<double> w(1000);
  for (int i = 0; i < 1000; ++i) w[i] = (i % 2 ? -1.0 : 1.0) * (i + 1);
  EXPECT_EQ(devices::percentile_abs(w, 99.9), 999.0);
  EXPECT_EQ(devices::percentile_abs(w, 99.95), 1000.0);

  devices::AdcParams p;
  const double bound = devices::bound_full_scale(128, 0.2, kGMin, kGMax);
  EXPECT_DOUBLE_EQ(bound, 128 * 0.2 * 9e-5);
  EXPECT_EQ(devices::adc_full_scale(p, {}, bound).value(), bound);
  p.range = devices::AdcRange::kFixed;
  p.full_scale = 3e-6;
  EXPECT_EQ(devices::adc_full_scale(p, {}, bound).value(), 3e-6);
  p.range = devices::AdcRange::kCalibrated;
  EXPECT_EQ(devices::adc_full_scale(p, w, bound).value(), 1000.0);
  EXPECT_FALSE(devices::adc_full_scale(p, {}, bound).is_ok());
  p.range = devices::AdcRange::kPercentile;
  p.percentile = 50;
  EXPECT_EQ(devices::adc_full_scale(p, w, bound).value(), 500.0);
  const std::vector<double> zeros(10, 0.0);
  EXPECT_NE(devices::adc_full_scale(p, zeros, bound).status().message().find("must be > 0"),
            std::string::npos);
}

TEST(AdcModel, ConversionEnergy) {
  devices::AdcParams p;  // flash, E_1 derived from Craninckx et al. 2009
  EXPECT_NEAR(p.comparator_energy, 40.6e-15, 0.05e-15);
  EXPECT_NEAR(p.walden_fom, 39.3e-15, 0.05e-15);
  EXPECT_EQ(devices::conversion_energy(p, 0), 0.0);
  EXPECT_DOUBLE_EQ(devices::conversion_energy(p, 1), p.comparator_energy);  // a sense amp
  EXPECT_NEAR(devices::conversion_energy(p, 5), 2.2e-3 / 1.75e9, 1e-20);    // the cited ADC
  EXPECT_DOUBLE_EQ(devices::conversion_energy(p, 8), 255 * p.comparator_energy);
  EXPECT_DOUBLE_EQ(devices::conversion_energy(p, 5) / devices::conversion_energy(p, 1), 31.0);
  p.energy_model = devices::AdcEnergyModel::kWalden;
  EXPECT_NEAR(devices::conversion_energy(p, 5), 2.2e-3 / 1.75e9, 1e-20);
  EXPECT_DOUBLE_EQ(devices::conversion_energy(p, 1), 2.0 * p.walden_fom);
  EXPECT_DOUBLE_EQ(devices::conversion_energy(p, 5) / devices::conversion_energy(p, 1), 16.0);
  EXPECT_EQ(devices::conversion_energy(p, 0), 0.0);
}

TEST(AdcModel, ValidationNamesKeyValueAndRule) {
  devices::AdcParams p;
  EXPECT_TRUE(devices::validate(p).is_ok());
  p.percentile = 0.0;
  EXPECT_NE(devices::validate(p).message().find("percentile = 0: must be finite and in (0, 100]"),
            std::string::npos)
      << devices::validate(p).message();
  p = {};
  p.range = devices::AdcRange::kFixed;
  EXPECT_NE(
      devices::validate(p).message().find("full_scale = 0 A with range = 'fixed': must be > 0"),
      std::string::npos)
      << devices::validate(p).message();
  p.full_scale = -1e-6;
  EXPECT_NE(devices::validate(p).message().find("full_scale = -1e-06 A: must be finite and >= 0"),
            std::string::npos)
      << devices::validate(p).message();
  p = {};
  p.comparator_energy = -1.0;
  EXPECT_NE(devices::validate(p).message().find("comparator_energy = -1 J"), std::string::npos);
  EXPECT_EQ(devices::adc_parameters().table(), "adc");
  EXPECT_EQ(devices::adc_parameters().find("full_scale")->json_key(), "full_scale_A");
}

}  // namespace
}  // namespace xbarnet
