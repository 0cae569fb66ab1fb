// Parasitic-resistance correction schemes on one tile (corrections/corrections.hpp). The oracle
// is the solver's exact transfer matrix of the programmed tile (solver::transfer_matrix, a system
// of its own) and an error metric computed here, sharing no code with corrections/.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "corrections/corrections.hpp"
#include "solver/crossbar_system.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using corrections::CorrectionParams;
using corrections::Scheme;
using corrections::TileCorrection;
using corrections::TileProblem;

constexpr double kGMin = 1e-5, kGMax = 1e-4;  // the default devices: r_hrs 100 kohm, r_lrs 10 kohm
const netlists::Parasitics kModerate{10, 1, 1, 10};     // R_s, r_w, r_b, R_n [ohm]
const netlists::Parasitics kHeavy{100, 2.5, 2.5, 100};  // the brief's exact-compensation case

TileProblem make_problem(Eigen::Index n, double lo, double hi, netlists::Parasitics par,
                         unsigned seed) {
  std::mt19937_64 rng(seed);
  TileProblem p;
  p.target = testing::random_matrix(rng, n, n, lo, hi);
  p.used_rows = n;
  for (Eigen::Index j = 0; j < n; ++j) p.used_cols.push_back(j);
  p.g_min = kGMin;
  p.g_max = kGMax;
  p.parasitics = par;
  return p;
}

Eigen::MatrixXd exact_t(const Eigen::MatrixXd& g, const netlists::Parasitics& par) {
  auto run = solver::transfer_matrix(netlists::Crossbar::uniform(g, par));
  EXPECT_TRUE(run.is_ok()) << run.status().to_string();
  return run.value().transfer.t;
}

// || diag(gain) T diag(scale) - G^T ||_F / ||G^T||_F over the used part, with T given.
double oracle_error(const TileProblem& p, const TileCorrection& c, const Eigen::MatrixXd& t) {
  double num = 0, den = 0;
  for (Eigen::Index j : p.used_cols)
    for (Eigen::Index i = 0; i < p.used_rows; ++i) {
      const double e = c.column_gain(j) * t(j, i) * c.row_scale(i) - p.target(i, j);
      num += e * e;
      den += p.target(i, j) * p.target(i, j);
    }
  return std::sqrt(num / den);
}

// The bounds hold for every cell, and the cells outside the used part keep their target.
void expect_physical(const TileProblem& p, const TileCorrection& c, double headroom) {
  const Eigen::Index r = p.target.rows(), cols = p.target.cols();
  std::vector<char> used(static_cast<std::size_t>(cols), 0);
  for (Eigen::Index j : p.used_cols) used[static_cast<std::size_t>(j)] = 1;
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < r; ++i) {
      const bool in_use = i < p.used_rows && used[static_cast<std::size_t>(j)] != 0;
      const double g = c.programmed(i, j);
      EXPECT_TRUE(in_use ? g >= p.g_min * (1 - 1e-12) && g <= p.g_max * (1 + 1e-12)
                         : g == p.target(i, j))
          << "cell " << i << "," << j << " = " << g << " S";
    }
  for (Eigen::Index i = 0; i < r; ++i) {
    EXPECT_GE(c.row_scale(i), 1.0);
    EXPECT_LE(c.row_scale(i), headroom);
    if (i >= p.used_rows) {
      EXPECT_EQ(c.row_scale(i), 1.0);
    }
  }
  for (Eigen::Index j = 0; j < cols; ++j)
    if (used[static_cast<std::size_t>(j)] == 0) {
      EXPECT_EQ(c.column_gain(j), 1.0);
    }
}

void print(const char* label, const corrections::CorrectionReport& r) {
  std::printf(
      "[%s] %-18s error %.4g -> %.4g  beta %.3f  it %d  fact %d  stop %s  at G_min %lld  at "
      "G_max %lld  reads %lld  %.2f s (+ check %.2f s)\n",
      label, r.scheme.c_str(), r.error_before, r.error_after, r.beta, r.iterations,
      r.factorizations, r.stop_reason.c_str(), static_cast<long long>(r.cells_at_g_min),
      static_cast<long long>(r.cells_at_g_max), static_cast<long long>(r.calibration_reads),
      r.seconds, r.check_seconds);
}

TEST(Corrections, SchemeNamesAndParameters) {
  for (Scheme s : corrections::kAllSchemes) {
    auto parsed = corrections::parse_scheme(corrections::to_string(s));
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value(), s);
  }
  auto bad = corrections::parse_scheme("exact");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("exact_compensation"), std::string::npos);
  EXPECT_EQ(corrections::correction_parameters().table(), "correction");
  EXPECT_TRUE(corrections::validate(CorrectionParams{}).is_ok());
  CorrectionParams p;
  p.driver_headroom = 0.9;
  Status s = corrections::validate(p);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("driver_headroom = 0.9"), std::string::npos) << s.message();
  p = {};
  p.max_refactorizations = 0;
  EXPECT_FALSE(corrections::validate(p).is_ok());
  p = {};
  p.tolerance = 0.0;
  EXPECT_FALSE(corrections::validate(p).is_ok());
  TileProblem bad_tile = make_problem(4, 2e-5, 8e-5, kModerate, 1);
  bad_tile.used_cols = {2, 1};
  EXPECT_FALSE(corrections::validate(bad_tile).is_ok());
}

// Every scheme lowers the error of a random tile; the figures in the comments are measured.
void improves(Eigen::Index n, double gain_ratio, double pre_ratio, double exact_ratio,
              double input_ratio, bool run_exact) {
  const TileProblem p = make_problem(n, kGMin, kGMax, kModerate, 11);
  const Eigen::MatrixXd t0 = exact_t(p.target, p.parasitics);
  CorrectionParams cp;
  const char* label = n == 128 ? "128" : "256";
  for (Scheme s : corrections::kAllSchemes) {
    if (s == Scheme::kNone || (s == Scheme::kExactCompensation && !run_exact)) continue;
    cp.scheme = s;
    auto c = corrections::correct_tile(p, cp, &t0);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    const auto& r = c.value().report;
    print(label, r);
    expect_physical(p, c.value(), cp.driver_headroom);
    const bool write_side = s == Scheme::kPredistortion || s == Scheme::kExactCompensation;
    const double before = oracle_error(
        p, TileCorrection{p.target, Eigen::VectorXd::Ones(n), Eigen::VectorXd::Ones(n), {}}, t0);
    const double after =
        oracle_error(p, c.value(), write_side ? exact_t(c.value().programmed, p.parasitics) : t0);
    EXPECT_NEAR(r.error_before, before, 1e-9);
    EXPECT_NEAR(r.error_after, after, 1e-9 + 1e-6 * after);
    const double ratio = s == Scheme::kColumnGain      ? gain_ratio
                         : s == Scheme::kPredistortion ? pre_ratio
                         : s == Scheme::kInputScaling  ? input_ratio
                                                       : exact_ratio;
    EXPECT_LT(after, ratio * before) << r.scheme;
  }
}

TEST(Corrections, EverySchemeImprovesA128Tile) { improves(128, 0.5, 0.25, 0.1, 0.9, true); }
TEST(Corrections, EverySchemeImprovesA256Tile) { improves(256, 0.5, 0.3, 0.25, 0.95, true); }

TEST(Corrections, ParasiticFreeTileStaysExact) {
  TileProblem p = make_problem(24, kGMin, kGMax, netlists::Parasitics{0, 0, 0, 0}, 3);
  const Eigen::MatrixXd t0 = exact_t(p.target, p.parasitics);
  for (Scheme s : corrections::kAllSchemes) {
    CorrectionParams cp;
    cp.scheme = s;
    auto c = corrections::correct_tile(p, cp, &t0);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    EXPECT_LT(c.value().report.error_before, 1e-12);
    EXPECT_LT(c.value().report.error_after, 1e-12) << c.value().report.scheme;
    EXPECT_LT(oracle_error(p, c.value(), exact_t(c.value().programmed, p.parasitics)), 1e-12);
  }
}

// The target: a tile with heavy parasitics (R_s = R_n = 100 ohm, r_w = r_b = 2.5 ohm)
// compensated to below 0.1 % in at most 10 factorizations, whenever the bounds allow it. The
// count is every numeric factorization the scheme runs: the solve of the uncorrected tile
// (error_before) included; there is no separate check solve (error_after is the exact error of
// the best iterate, re-checked here by the independent oracle).
void meets_target(const char* label, const TileProblem& p, bool reachable) {
  CorrectionParams cp;
  cp.scheme = Scheme::kExactCompensation;
  cp.tolerance = 1e-3;
  auto c = corrections::correct_tile(p, cp);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  const auto& r = c.value().report;
  print(label, r);
  EXPECT_EQ(r.stop_reason, "converged");
  EXPECT_LE(r.factorizations, 10);
  EXPECT_EQ(r.iterations + 1, r.factorizations);
  EXPECT_LT(r.error_after, 1e-3);
  EXPECT_EQ(r.cells_at_g_min + r.cells_at_g_max, 0);
  expect_physical(p, c.value(), cp.driver_headroom);
  EXPECT_LT(oracle_error(p, c.value(), exact_t(c.value().programmed, p.parasitics)), 1e-3);
  EXPECT_DOUBLE_EQ(c.value().column_gain(p.used_cols.front()), 1.0 / r.beta);
  EXPECT_LE(r.beta, 1.0);
  if (reachable) {
    EXPECT_GT(r.error_before, 0.5);
  }
}

// A target the bounds allow by construction: T of an array programmed within [3e-5, 7e-5] S
// (inside [G_min, G_max] = [1e-5, 1e-4]), scaled so that its largest entry is 0.8 G_max; so an
// exact solution exists at beta = 1 / that scale (~0.37 for 256). Measured (Release, seeds 1, 2,
// 3, 5, 11 alike): 256: 0.664 -> 7.9e-4 in 8 factorizations, beta 0.376, 1.6 s; 128: 0.610 ->
// 6.5e-4 in 6 factorizations, beta 0.452, 0.26 s. (Before: 256 stalled at 0.074, bounds_bind.)
TileProblem reachable(Eigen::Index n, unsigned seed) {
  TileProblem p = make_problem(n, 3e-5, 7e-5, kHeavy, seed);
  const Eigen::MatrixXd t_true = exact_t(p.target, p.parasitics);
  p.target = t_true.transpose() * (0.8 * kGMax / t_true.maxCoeff());
  return p;
}
TEST(Corrections, ExactCompensationMeetsTargetOnA256Tile) {
  meets_target("256 reachable", reachable(256, 5), true);
}
TEST(Corrections, ExactCompensationMeetsTargetOnA128Tile) {
  meets_target("128 reachable", reachable(128, 6), true);
}

// The example's devices (r_lrs = 100 kohm, r_hrs = 1 Mohm: G in [1e-6, 1e-5] S), a random
// target over the middle of that range, the same heavy parasitics. Measured: 0.448 -> 4.7e-4 in
// 4 factorizations, beta 0.505, 0.8 s. (A wider target, [1.5e-6, 9e-6], is not: even at the
// largest beta the model allows (beta_margin 1), 250-400 cells want less than G_min; at the
// default margin it stops at 1.3-1.5e-3 in 7 factorizations, reported as bounds_bind.)
TEST(Corrections, ExactCompensationMeetsTargetWithTheExampleDevices) {
  TileProblem p = make_problem(256, 2e-6, 8e-6, kHeavy, 8);
  p.g_min = 1e-6;
  p.g_max = 1e-5;
  meets_target("256 example devices", p, false);
}

// Full-range random targets with heavy parasitics cannot be met: the report says which bound
// binds, the error still drops, and the bounds hold.
TEST(Corrections, InfeasibleTargetReportsTheBindingBound) {
  TileProblem p = make_problem(96, kGMin, kGMax, kHeavy, 9);
  for (bool scaling : {true, false}) {
    CorrectionParams cp;
    cp.scheme = Scheme::kExactCompensation;
    cp.target_scaling = scaling;
    auto c = corrections::correct_tile(p, cp);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    const auto& r = c.value().report;
    print(scaling ? "96 infeasible, beta" : "96 infeasible, beta = 1", r);
    expect_physical(p, c.value(), cp.driver_headroom);
    EXPECT_EQ(r.stop_reason, "bounds_bind");
    EXPECT_LE(r.factorizations, cp.max_refactorizations);
    EXPECT_GT(r.error_after, cp.tolerance);
    EXPECT_LE(r.error_after, r.error_before);
    if (scaling) {
      EXPECT_LT(r.error_after, 0.2 * r.error_before);
      EXPECT_LT(r.beta, 1.0);
      EXPECT_GT(r.cells_at_g_min, 0);
    } else {
      EXPECT_EQ(r.beta, 1.0);
      EXPECT_GT(r.cells_at_g_max, 0);
    }
  }
}

// Part of the tile used (nk rows, some columns): the rest is untouched, input scaling stays in
// [1, headroom] and reports the rows it clipped, and the reads are counted.
TEST(Corrections, PartlyUsedTileAndReadCounts) {
  TileProblem p = make_problem(64, 2e-5, 8e-5, kHeavy, 4);
  p.used_rows = 40;
  p.used_cols.clear();
  for (Eigen::Index j = 0; j < 64; j += 3) p.used_cols.push_back(j);
  for (Eigen::Index i = 0; i < 64; ++i)
    for (Eigen::Index j = 0; j < 64; ++j)
      if (i >= p.used_rows || j % 3 != 0) p.target(i, j) = kGMin;
  const Eigen::MatrixXd t0 = exact_t(p.target, p.parasitics);
  for (Scheme s : corrections::kAllSchemes) {
    CorrectionParams cp;
    cp.scheme = s;
    cp.driver_headroom = 1.1;
    auto c = corrections::correct_tile(p, cp, &t0);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    const auto& r = c.value().report;
    print("64 partly used", r);
    expect_physical(p, c.value(), cp.driver_headroom);
    if (s != Scheme::kNone) {
      EXPECT_LT(r.error_after, r.error_before) << r.scheme;
    }
    if (s == Scheme::kColumnGain) {
      EXPECT_EQ(r.calibration_reads, 1);
    }
    if (s == Scheme::kInputScaling) {
      EXPECT_EQ(r.calibration_reads, 40);
      EXPECT_GT(r.rows_at_headroom, 0);
    }
  }
  // A calibration batch of K inputs counts K reads.
  CorrectionParams cp;
  std::mt19937_64 rng(2);
  const Eigen::MatrixXd batch = testing::random_matrix(rng, 8, 64, 0.0, 0.2);
  auto c = corrections::column_gain(p, t0, cp, batch);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c.value().report.calibration_reads, 8);
  EXPECT_LT(c.value().report.error_after, c.value().report.error_before);
}

}  // namespace
}  // namespace xbarnet
