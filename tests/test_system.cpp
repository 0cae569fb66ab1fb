// The reusable crossbar system: both modes, re-stamping without re-analysis, current injection,
// transfer-matrix health, verbs out of order, and the KLU refactorization fallback.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "reference_mna.hpp"
#include "solver/crossbar_system.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using Eigen::Index;
using netlists::Crossbar;
using solver::Backend;
using solver::CrossbarSystem;
using solver::Mode;
using solver::SystemOptions;
using testing::rel_diff;

CrossbarSystem factorized(const Crossbar& x, SystemOptions o = {}) {
  auto s = CrossbarSystem::assemble(x, o);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  CrossbarSystem sys = std::move(s).value();
  EXPECT_TRUE(sys.analyze().is_ok());
  EXPECT_TRUE(sys.factorize().is_ok());
  return sys;
}

// The independent oracle's transfer matrix: column i = currents for the unit input on row i.
Eigen::MatrixXd oracle_t(const Crossbar& x) {
  return testing::reference_mna(x, Eigen::MatrixXd::Identity(x.rows(), x.rows())).transpose();
}

TEST(System, TransferMatrixAgreesWithTheIndependentMnaOracle) {
  std::mt19937_64 rng(40);
  for (auto [r, c] : {std::pair<Eigen::Index, Eigen::Index>{1, 1}, {3, 7}, {12, 9}}) {
    Crossbar x = testing::random_crossbar(rng, r, c, 90.0, 2.0, 3.0, 70.0);
    if (c > 2) {
      x.r_neuron(1) = 0.0;              // ideal virtual ground
      x.r_neuron(2) = netlists::kOpen;  // unsensed column
    }
    if (r > 2) x.r_source(2) = 0.0;
    const Eigen::MatrixXd ref = oracle_t(x);
    for (Backend b : solver::all_backends()) {
      auto t = solver::transfer_matrix(x, b);
      ASSERT_TRUE(t.is_ok()) << t.status().to_string();
      EXPECT_LT(rel_diff(t.value().transfer.t, ref), 1e-11)
          << solver::to_string(b) << " " << r << "x" << c;
      EXPECT_LT(t.value().transfer.check_difference, 1e-12);
      EXPECT_GE(t.value().transfer.check_residual, 0.0);
      EXPECT_LT(t.value().transfer.check_residual, 1e-14);
      if (c > 2) {
        EXPECT_EQ(t.value().transfer.t.row(2).cwiseAbs().maxCoeff(), 0.0);
      }
    }
  }
}

// A correction loop re-stamps and refactorizes the same system: the symbolic analysis runs once.
TEST(System, RestampingNeverReanalyzes) {
  std::mt19937_64 rng(41);
  const Crossbar x = testing::random_crossbar(rng, 14, 12, 100.0, 2.5, 2.5, 100.0);
  constexpr int kIterations = 5;
  std::vector<Eigen::MatrixXd> g, fresh;
  for (int it = 0; it < kIterations; ++it) {
    Crossbar y = x;
    y.conductance = testing::random_matrix(rng, 14, 12, 1e-5, 1e-4);
    g.push_back(y.conductance);
    fresh.push_back(oracle_t(y));
  }
  for (Backend b : solver::all_backends()) {
    for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
      CrossbarSystem sys = factorized(x, {b, solver::Ordering::kNestedDissection, mode});
      for (int it = 0; it < kIterations; ++it) {
        ASSERT_TRUE(sys.set_conductances(g[it]).is_ok());
        ASSERT_TRUE(sys.factorize().is_ok());
        auto t = sys.transfer_matrix();
        ASSERT_TRUE(t.is_ok()) << t.status().to_string();
        // Equal to the oracle's transfer matrix of the re-stamped tile.
        EXPECT_LT(rel_diff(t.value().t, fresh[it]), 1e-11);
      }
      EXPECT_EQ(sys.counters().analyses, 1) << solver::to_string(b);
      EXPECT_EQ(sys.counters().backend_analyses, 1) << solver::to_string(b);
      EXPECT_EQ(sys.counters().restamps, kIterations);
      EXPECT_EQ(sys.counters().factorizations, kIterations + 1);
    }
  }
}

TEST(System, TransferModeSolvesLikeADrivenSystem) {
  std::mt19937_64 rng(42);
  Crossbar x = testing::random_crossbar(rng, 10, 14, 80.0, 2.0, 3.0, 50.0);
  x.r_neuron(3) = 0.0;
  x.r_bitline.col(5).setZero();
  const Eigen::MatrixXd v = testing::random_matrix(rng, 4, 10, -0.2, 0.2);
  solver::SolveOptions so;
  so.node_voltages = true;
  CrossbarSystem driven = factorized(x);
  CrossbarSystem transfer = factorized(x, {Backend::kCholmod, {}, Mode::kTransfer});
  auto a = driven.solve(v, so);
  auto b = transfer.solve(v, so);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_LT(rel_diff(b.value().column_current, testing::reference_mna(x, v)), 1e-11);
  EXPECT_LT(rel_diff(b.value().column_current, a.value().column_current), 1e-12);
  EXPECT_LT(rel_diff(b.value().word_voltage[2], a.value().word_voltage[2]), 1e-12);
  EXPECT_LT(rel_diff(b.value().bit_voltage[3], a.value().bit_voltage[3]), 1e-12);
  EXPECT_LT(b.value().relative_residual, 1e-14);
  EXPECT_EQ(transfer.stats().mode, Mode::kTransfer);
}

TEST(System, AnOpenColumnCarriesExactlyNoCurrent) {
  std::mt19937_64 rng(43);
  Crossbar x = testing::random_crossbar(rng, 9, 6, 100.0, 2.5, 2.5, 100.0);
  x.r_neuron(4) = netlists::kOpen;
  const Eigen::MatrixXd v = testing::random_matrix(rng, 3, 9, 0.0, 0.2);
  for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
    for (Backend b : solver::all_backends()) {
      CrossbarSystem sys = factorized(x, {b, solver::Ordering::kNestedDissection, mode});
      auto s = sys.solve(v);
      ASSERT_TRUE(s.is_ok());
      EXPECT_EQ(s.value().column_current.col(4).cwiseAbs().maxCoeff(), 0.0);
    }
  }
}

// Newton's companion sources enter as current injections: removing a cell and injecting its
// current in its place reproduces the circuit with the cell.
TEST(System, InjectingACellsCurrentReplacesTheCell) {
  std::mt19937_64 rng(44);
  Crossbar x = testing::random_crossbar(rng, 7, 8, 100.0, 2.5, 2.5, 100.0);
  x.r_neuron(6) = 0.0;  // the KCL path of the column current
  const Eigen::MatrixXd v = testing::random_matrix(rng, 2, 7, 0.0, 0.2);
  solver::SolveOptions so;
  so.node_voltages = true;
  auto full = solver::solve_crossbar(x, v, {}, so);
  ASSERT_TRUE(full.is_ok());
  Crossbar cut = x;
  solver::Injection inj;
  for (Eigen::Index k = 0; k < 2; ++k) {
    inj.word.push_back(Eigen::MatrixXd::Zero(7, 8));
    inj.bit.push_back(Eigen::MatrixXd::Zero(7, 8));
    for (auto [i, j] : {std::pair<int, int>{3, 2}, {5, 6}}) {
      const double current = x.conductance(i, j) * full.value().solution.cell_voltage(k)(i, j);
      inj.word[k](i, j) -= current;
      inj.bit[k](i, j) += current;
    }
  }
  cut.conductance(3, 2) = 0.0;
  cut.conductance(5, 6) = 0.0;
  for (Backend b : solver::all_backends()) {
    CrossbarSystem sys = factorized(cut, {b});
    auto s = sys.solve(v, so, &inj);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_LT(rel_diff(s.value().column_current, full.value().solution.column_current), 1e-12);
    EXPECT_LT(rel_diff(s.value().bit_voltage[1], full.value().solution.bit_voltage[1]), 1e-12);
  }
  // Injections need the driven mode, and one matrix per input vector.
  CrossbarSystem t = factorized(cut, {Backend::kCholmod, {}, Mode::kTransfer});
  EXPECT_EQ(t.solve(v, so, &inj).status().code(), StatusCode::kInvalidArgument);
  CrossbarSystem d = factorized(cut);
  inj.bit.pop_back();
  EXPECT_NE(d.solve(v, so, &inj).status().message().find("1 matrices for 2 input vectors"),
            std::string::npos);
}

// One cell, source and neuron resistance, a current J injected into the bit line: two nodal
// equations solved by hand (Cramer's rule).
TEST(System, InjectionClosedForm) {
  const double rs = 100.0, g = 1e-3, rn = 200.0, vin = 1.0, j = 2e-4;
  const Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(1, 1, g), rs, 0.0, 0.0, rn);
  // (1/rs + g) w - g b = vin/rs ;  -g w + (g + 1/rn) b = j
  const double a11 = 1 / rs + g, a12 = -g, a22 = g + 1 / rn, b1 = vin / rs, b2 = j;
  const double det = a11 * a22 - a12 * a12;
  const double b = (a11 * b2 - a12 * b1) / det;
  solver::Injection inj;
  inj.bit.push_back(Eigen::MatrixXd::Constant(1, 1, j));
  CrossbarSystem sys = factorized(x);
  auto s = sys.solve(Eigen::MatrixXd::Constant(1, 1, vin), {}, &inj);
  ASSERT_TRUE(s.is_ok());
  EXPECT_NEAR(s.value().column_current(0, 0), b / rn, 1e-15);
}

TEST(System, TransferModeNeedsTheNestedDissectionOrdering) {
  std::mt19937_64 rng(45);
  const Crossbar x = testing::random_crossbar(rng, 4, 4, 10, 1, 1, 10);
  auto s =
      CrossbarSystem::assemble(x, {Backend::kCholmod, solver::Ordering::kBackend, Mode::kTransfer});
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("only ordering = nd guarantees"), std::string::npos);
}

// Verbs out of order are programmer errors: asserted in Debug builds, a Status otherwise.
TEST(System, VerbsOutOfOrder) {
  std::mt19937_64 rng(46);
  const Crossbar x = testing::random_crossbar(rng, 4, 4, 10, 1, 1, 10);
  CrossbarSystem sys = factorized(x);
  ASSERT_TRUE(sys.set_conductances(x.conductance).is_ok());
  EXPECT_DEBUG_DEATH(
      {
        const auto r = sys.solve(Eigen::MatrixXd::Ones(1, 4));
        EXPECT_FALSE(r.is_ok());
      },
      "solve\\(\\) before factorize\\(\\)");
  auto fresh = CrossbarSystem::assemble(x);
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_DEBUG_DEATH({ EXPECT_FALSE(fresh.value().factorize().is_ok()); },
                     "factorize\\(\\) before analyze\\(\\)");
}

// Misuse of a StatusOr is asserted in Debug builds; in Release builds value() on an error throws
// std::bad_optional_access (defined behaviour, caught at the CLI boundary) instead of reading
// an empty optional.
TEST(StatusOr, MisuseIsAssertedInDebugBuilds) {
#ifndef NDEBUG
  EXPECT_DEATH({ StatusOr<int> s(Status::ok()); }, "neither a value nor an error");
  EXPECT_DEATH(
      {
        StatusOr<int> s(Status::invalid_argument("x"));
        std::fprintf(stderr, "%d", s.value());
      },
      "value\\(\\) of a StatusOr that holds an error");
#else
  StatusOr<int> s(Status::invalid_argument("x"));
  EXPECT_THROW(static_cast<void>(s.value()), std::bad_optional_access);
#endif
}

// A resistance too small to tell from a short (5e-324 ohm used to give NaN currents with a
// residual of 0; 1e-12 ohm on a bit line was 4 % off) is merged exactly, on every backend and in
// both modes: the currents equal those of 0 ohm.
TEST(System, TinyResistancesAreMergedAsShorts) {
  std::mt19937_64 rng(47);
  Crossbar x = testing::random_crossbar(rng, 12, 10, 100.0, 2.5, 2.5, 100.0);
  Crossbar zero = x;
  zero.r_bitline.setZero();
  zero.r_source(3) = 0.0;
  const Eigen::MatrixXd v = testing::random_matrix(rng, 3, 12, 0.0, 0.2);
  const Eigen::MatrixXd ref = testing::reference_mna(zero, v);
  for (double tiny : {5e-324, 1e-300, 1e-12, 1e-15 / 1e-4}) {  // the last: 1e-11 ohm
    Crossbar t = x;
    t.r_bitline.setConstant(tiny);
    t.r_source(3) = tiny;
    for (Backend b : solver::all_backends()) {
      for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
        auto run = solver::solve_crossbar(t, v, {b, solver::Ordering::kNestedDissection, mode});
        ASSERT_TRUE(run.is_ok()) << tiny << " " << solver::to_string(b) << ": "
                                 << run.status().to_string();
        EXPECT_TRUE(run.value().solution.column_current.allFinite());
        EXPECT_LT(rel_diff(run.value().solution.column_current, ref), 1e-11) << tiny;
        EXPECT_EQ(run.value().stats.tiny_shorts, 11 * 10 + 1) << tiny;
      }
    }
  }
  // Below the ratio a resistance is kept: 1e-5 ohm against 1e-4 S cells is a ratio of 1e9.
  // Its segments drop at most 12 * 2e-5 A * 1e-5 ohm = 2.4e-9 V of 0.2 V, so the currents equal
  // those of 0 ohm to about 1e-8 (measured 3e-8 on every backend).
  Crossbar kept = x;
  kept.r_bitline.setConstant(1e-5);
  kept.r_source(3) = 1e-5;
  for (Backend b : solver::all_backends()) {
    auto run = solver::solve_crossbar(kept, v, {b, solver::Ordering::kNestedDissection});
    ASSERT_TRUE(run.is_ok()) << run.status().to_string();
    EXPECT_EQ(run.value().stats.tiny_shorts, 0);
    EXPECT_LT(rel_diff(run.value().solution.column_current, ref), 1e-7) << solver::to_string(b);
  }
}

// A neuron resistance too small to tell from a short is merged like 0 ohm, and the column's
// current is then the KCL sum of its cells (5e-324 and 1e-9 ohm used to give all-zero currents,
// since v_b / R_n of a merged node is 0 / R_n).
TEST(System, TinyNeuronResistancesGiveTheCurrentsOfZeroOhm) {
  std::mt19937_64 rng(49);
  Crossbar x = testing::random_crossbar(rng, 9, 7, 100.0, 2.5, 2.5, 100.0);
  Crossbar zero = x;
  zero.r_neuron.setZero();
  const Eigen::MatrixXd v = testing::random_matrix(rng, 2, 9, 0.0, 0.2);
  const Eigen::MatrixXd ref = testing::reference_mna(zero, v);
  ASSERT_GT(ref.cwiseAbs().minCoeff(), 0.0);
  for (double tiny : {5e-324, 1e-300, 1e-9}) {
    Crossbar t = x;
    t.r_neuron.setConstant(tiny);
    t.r_neuron(2) = 0.0;  // mixed: one exact short among tiny ones
    for (Backend b : solver::all_backends()) {
      for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
        auto run = solver::solve_crossbar(t, v, {b, solver::Ordering::kNestedDissection, mode});
        ASSERT_TRUE(run.is_ok()) << tiny << " " << solver::to_string(b) << ": "
                                 << run.status().to_string();
        EXPECT_LT(rel_diff(run.value().solution.column_current, ref), 1e-11)
            << tiny << " " << solver::to_string(b);
        EXPECT_EQ(run.value().stats.tiny_shorts, 6) << tiny;
      }
    }
  }
}

// Which resistances are merged is decided from the cells at assembly: a re-stamp whose cells
// would decide otherwise is refused (it needs a new pattern), one that would not is accepted.
TEST(System, RestampingRefusesCellsThatWouldChangeTheTinyMerge) {
  std::mt19937_64 rng(50);
  Crossbar x = testing::random_crossbar(rng, 5, 4, 100.0, 2.5, 2.5, 100.0);
  x.r_bitline.setConstant(1e-10);  // 1e10 S against <= 1e-4 S cells: ratio >= 1e14, merged
  auto sys = CrossbarSystem::assemble(x);
  ASSERT_TRUE(sys.is_ok());
  EXPECT_TRUE(sys.value().set_conductances(x.conductance * 0.5).is_ok());
  const Status big = sys.value().set_conductances(x.conductance * 1e5);  // 1e10 S / >1 S < 1e10
  EXPECT_FALSE(big.is_ok());
  EXPECT_NE(big.message().find("merged as shorts"), std::string::npos) << big.message();
  EXPECT_FALSE(sys.value().set_conductances(Eigen::MatrixXd::Zero(5, 4)).is_ok());
  // The other way: 2.5 ohm lines kept against 1e-4 S cells become tiny against 1e-14 S cells.
  Crossbar y = testing::random_crossbar(rng, 5, 4, 100.0, 2.5, 2.5, 100.0);
  auto sys2 = CrossbarSystem::assemble(y);
  ASSERT_TRUE(sys2.is_ok());
  EXPECT_FALSE(sys2.value().set_conductances(y.conductance * 1e-10).is_ok());
}

// The transfer path (T once, I = V T^T) and the direct block solve give the same currents, on
// every backend, and both agree with the independent MNA oracle; the transfer path checks three
// inputs by direct solves and reports their residual.
TEST(SolvePath, TransferAndDirectGiveTheSameCurrents) {
  std::mt19937_64 rng(61);
  for (auto [r, c] : {std::pair<Index, Index>{9, 7}, {16, 16}, {5, 12}}) {
    const Crossbar x = testing::random_crossbar(rng, r, c, 100.0, 2.5, 2.5, 100.0);
    const Eigen::MatrixXd v = testing::random_matrix(rng, 40, r, -0.2, 0.2);
    const Eigen::MatrixXd ref = testing::reference_mna(x, v);
    for (Backend b : solver::all_backends()) {
      auto direct = solver::solve_crossbar(x, v, {b}, {}, solver::SolvePath::kDirect);
      auto through_t = solver::solve_crossbar(x, v, {b}, {}, solver::SolvePath::kTransfer);
      ASSERT_TRUE(direct.is_ok()) << direct.status().to_string();
      ASSERT_TRUE(through_t.is_ok()) << through_t.status().to_string();
      const Eigen::MatrixXd& id = direct.value().solution.column_current;
      const Eigen::MatrixXd& it = through_t.value().solution.column_current;
      EXPECT_LT(rel_diff(it, id), 1e-12) << solver::to_string(b);
      EXPECT_LT(rel_diff(it, ref), 1e-11) << solver::to_string(b);
      EXPECT_EQ(direct.value().path.path, solver::SolvePath::kDirect);
      EXPECT_EQ(through_t.value().path.path, solver::SolvePath::kTransfer);
      EXPECT_EQ(through_t.value().checked_inputs, 3);
      EXPECT_LT(through_t.value().transfer_check, 1e-12);
      EXPECT_GT(through_t.value().solution.relative_residual, 0.0);
      EXPECT_LT(through_t.value().solution.relative_residual, 1e-14);
      EXPECT_EQ(direct.value().transfer_check, -1.0);
    }
  }
  // One input: checked once.
  const Crossbar x = testing::random_crossbar(rng, 4, 3, 10.0, 1.0, 1.0, 10.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 1, 4, 0.0, 0.2);
  auto one = solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kTransfer);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one.value().checked_inputs, 1);
  EXPECT_LT(rel_diff(one.value().solution.column_current, testing::reference_mna(x, v)), 1e-11);
}

// Node voltages of listed inputs, on either path, equal those of a direct solve of every input.
TEST(SolvePath, VoltagesOfListedInputs) {
  std::mt19937_64 rng(65);
  const Crossbar x = testing::random_crossbar(rng, 7, 5, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 12, 7, 0.0, 0.2);
  solver::SolveOptions all;
  all.node_voltages = true;
  auto every = solver::solve_crossbar(x, v, {}, all);
  ASSERT_TRUE(every.is_ok());
  const std::vector<Index> listed{11, 4};
  for (solver::SolvePath p : {solver::SolvePath::kDirect, solver::SolvePath::kTransfer}) {
    auto run = solver::solve_crossbar(x, v, {}, {}, p, listed);
    ASSERT_TRUE(run.is_ok()) << run.status().to_string();
    EXPECT_EQ(run.value().voltage_inputs, listed);
    ASSERT_EQ(run.value().solution.word_voltage.size(), 2u);
    for (size_t q = 0; q < listed.size(); ++q) {
      EXPECT_LT(rel_diff(run.value().solution.word_voltage[q],
                         every.value().solution.word_voltage[listed[q]]),
                1e-13);
      EXPECT_LT(rel_diff(run.value().solution.bit_voltage[q],
                         every.value().solution.bit_voltage[listed[q]]),
                1e-13);
    }
    EXPECT_LT(rel_diff(run.value().solution.column_current, every.value().solution.column_current),
              1e-12);
  }
  const std::vector<Index> outside{12};
  EXPECT_FALSE(solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kAuto, outside).is_ok());
  EXPECT_FALSE(solver::solve_crossbar(x, v, {}, all, solver::SolvePath::kAuto, listed).is_ok());
}

// An input whose currents cancel (projected onto the null space of T: a 6 x 2 tile maps a
// 4-dimensional space of signed inputs to zero) is judged against the size of the terms, not of
// its tiny currents: the transfer path passes its check, and its currents equal the direct
// solve's to rounding. (Against max |I(v)| the check failed such runs with errors near 1.)
TEST(SolvePath, AnInputWhoseCurrentsCancelPassesTheCheck) {
  std::mt19937_64 rng(66);
  const Crossbar x = testing::random_crossbar(rng, 6, 2, 100.0, 2.5, 2.5, 100.0);
  auto t = solver::transfer_matrix(x);
  ASSERT_TRUE(t.is_ok());
  const Eigen::MatrixXd& tm = t.value().transfer.t;  // 2 x 6
  Eigen::MatrixXd v = testing::random_matrix(rng, 9, 6, -0.2, 0.2);
  for (Index k : {Index{0}, Index{4}, Index{8}}) {  // the inputs the transfer path checks
    const Eigen::VectorXd r = v.row(k).transpose();
    const Eigen::VectorXd null = r - tm.transpose() * (tm * tm.transpose()).ldlt().solve(tm * r);
    v.row(k) = null.transpose();
  }
  ASSERT_LT((v.row(4) * tm.transpose()).cwiseAbs().maxCoeff(), 1e-18);
  auto through_t = solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kTransfer);
  ASSERT_TRUE(through_t.is_ok()) << through_t.status().to_string();
  EXPECT_LT(through_t.value().transfer_check, 1e-13);
  auto direct = solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kDirect);
  ASSERT_TRUE(direct.is_ok());
  const double scale = 0.2 * tm.cwiseAbs().rowwise().sum().maxCoeff();
  EXPECT_LT((through_t.value().solution.column_current - direct.value().solution.column_current)
                    .cwiseAbs()
                    .maxCoeff() /
                scale,
            1e-13);
}

// The cost model: one input goes direct, many go through T; node voltages and the backend's
// own ordering force the direct path; KLU (T by R solves) breaks even near R inputs.
TEST(SolvePath, TheCostModelChoosesByTheSizes) {
  using solver::choose_solve_path;
  using solver::SolvePath;
  const SystemOptions cholmod{};
  EXPECT_EQ(choose_solve_path(256, 256, 1, false, cholmod, SolvePath::kAuto).path,
            SolvePath::kDirect);
  const solver::PathChoice many =
      choose_solve_path(256, 256, 256, false, cholmod, SolvePath::kAuto);
  EXPECT_EQ(many.path, SolvePath::kTransfer);
  EXPECT_LT(many.transfer_flops, many.direct_flops / 10.0);
  EXPECT_NE(many.reason.find("cost model"), std::string::npos);
  EXPECT_EQ(choose_solve_path(256, 256, 256, true, cholmod, SolvePath::kAuto).path,
            SolvePath::kDirect);
  SystemOptions own_order;
  own_order.ordering = solver::Ordering::kBackend;
  EXPECT_EQ(choose_solve_path(256, 256, 256, false, own_order, SolvePath::kAuto).path,
            SolvePath::kDirect);
  const SystemOptions klu{Backend::kKlu};
  EXPECT_EQ(choose_solve_path(128, 128, 100, false, klu, SolvePath::kAuto).path,
            SolvePath::kDirect);
  EXPECT_EQ(choose_solve_path(128, 128, 200, false, klu, SolvePath::kAuto).path,
            SolvePath::kTransfer);
  EXPECT_EQ(choose_solve_path(8, 8, 1, true, cholmod, SolvePath::kTransfer).path,
            SolvePath::kTransfer);  // asked for: refused later by solve_crossbar, not here
  // The dense backend holds 20,000 unknowns: a 100 x 100 tile driven (20,000) but not with its
  // 200 boundary nodes.
  const SystemOptions dense{Backend::kDense};
  EXPECT_EQ(choose_solve_path(100, 100, 64, false, dense, SolvePath::kAuto).path,
            SolvePath::kDirect);
  EXPECT_EQ(choose_solve_path(90, 90, 64, false, dense, SolvePath::kAuto).path,
            SolvePath::kTransfer);
  // A transfer path cannot give node voltages.
  std::mt19937_64 rng(62);
  const Crossbar x = testing::random_crossbar(rng, 4, 3, 10.0, 1.0, 1.0, 10.0);
  solver::SolveOptions with_voltages;
  with_voltages.node_voltages = true;
  auto refused = solver::solve_crossbar(x, testing::random_matrix(rng, 2, 4, 0.0, 0.2), {},
                                        with_voltages, SolvePath::kTransfer);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("node voltages"), std::string::npos);
  EXPECT_FALSE(solver::parse_solve_path("fast").is_ok());
  EXPECT_EQ(solver::parse_solve_path("transfer").value(), SolvePath::kTransfer);
}

// A clone holds the pattern and the analysis: it re-stamps, factorizes and solves with no
// analysis of its own, on every backend and in both modes, and gives the currents of a fresh
// system; the original is untouched by what the clone does.
TEST(System, AClonedSystemSolvesWithoutAnalyzing) {
  std::mt19937_64 rng(63);
  const Crossbar x = testing::random_crossbar(rng, 8, 6, 100.0, 2.5, 2.5, 100.0);
  const Crossbar y = testing::random_crossbar(rng, 8, 6, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 3, 8, 0.0, 0.2);
  for (Backend b : solver::all_backends()) {
    for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
      auto proto = CrossbarSystem::assemble(x, {b, solver::Ordering::kNestedDissection, mode});
      ASSERT_TRUE(proto.is_ok());
      ASSERT_TRUE(proto.value().analyze().is_ok());
      CrossbarSystem copy = proto.value().clone();
      ASSERT_TRUE(copy.set_conductances(y.conductance).is_ok());
      ASSERT_TRUE(copy.factorize().is_ok());
      auto got = copy.solve(v);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      EXPECT_LT(rel_diff(got.value().column_current, testing::reference_mna(y, v)), 1e-11)
          << solver::to_string(b);
      EXPECT_EQ(copy.counters().analyses, 0);
      EXPECT_EQ(copy.counters().backend_analyses, 0) << solver::to_string(b);
      ASSERT_TRUE(proto.value().factorize().is_ok());
      auto own = proto.value().solve(v);
      ASSERT_TRUE(own.is_ok());
      EXPECT_LT(rel_diff(own.value().column_current, testing::reference_mna(x, v)), 1e-11);
      EXPECT_EQ(proto.value().counters().backend_analyses, 1);
    }
  }
}

// Blocks of inputs through a supernodal factor go node-major, in slabs of 32 inputs, slabs in
// parallel: 70 inputs (two full slabs and a partial one) on a 96 x 80 tile give the currents of
// KLU's LU (another factorization altogether) and of the transfer path, node voltages included,
// for 1 and 2 threads, in both modes.
TEST(System, SupernodalBlockSolvesAgreeWithKluAndTheTransferPath) {
  std::mt19937_64 rng(64);
  const Crossbar x = testing::random_crossbar(rng, 96, 80, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 70, 96, -0.2, 0.2);
  solver::SolveOptions voltages;
  voltages.node_voltages = true;
  auto klu = solver::solve_crossbar(x, v, {Backend::kKlu}, voltages);
  ASSERT_TRUE(klu.is_ok());
  auto through_t = solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kTransfer);
  ASSERT_TRUE(through_t.is_ok());
  for (Mode mode : {Mode::kDriven, Mode::kTransfer}) {
    for (int threads : {1, 2}) {
      solver::SolveOptions o = voltages;
      o.threads = threads;
      auto run = solver::solve_crossbar(
          x, v, {Backend::kCholmod, solver::Ordering::kNestedDissection, mode}, o);
      ASSERT_TRUE(run.is_ok()) << run.status().to_string();
      ASSERT_NE(run.value().stats.factor.method.find("supernodal"), std::string::npos)
          << run.value().stats.factor.method;
      const Eigen::MatrixXd& got = run.value().solution.column_current;
      EXPECT_LT(rel_diff(got, klu.value().solution.column_current), 1e-12) << threads;
      EXPECT_LT(rel_diff(got, through_t.value().solution.column_current), 1e-12) << threads;
      for (Index k : {Index{0}, Index{33}, Index{69}}) {
        EXPECT_LT(
            rel_diff(run.value().solution.word_voltage[k], klu.value().solution.word_voltage[k]),
            1e-12);
        EXPECT_LT(
            rel_diff(run.value().solution.bit_voltage[k], klu.value().solution.bit_voltage[k]),
            1e-12);
      }
      EXPECT_LT(run.value().solution.relative_residual, 1e-14);
      EXPECT_GT(run.value().solution.relative_residual, 0.0);
    }
  }
}

// A re-stamp that leaves a node floating is caught: with its driver open, row 0's word line
// hangs on its cells alone, and cells of 0 S there float it (the search is skipped only while
// every branch conducts).
TEST(System, ARestampThatFloatsANodeFailsWithItsName) {
  std::mt19937_64 rng(67);
  Crossbar x = testing::random_crossbar(rng, 4, 3, 100.0, 2.5, 2.5, 100.0);
  x.r_source(0) = std::numeric_limits<double>::infinity();
  auto sys = CrossbarSystem::assemble(x);
  ASSERT_TRUE(sys.is_ok());
  ASSERT_TRUE(sys.value().analyze().is_ok());
  ASSERT_TRUE(sys.value().factorize().is_ok());
  Eigen::MatrixXd g = x.conductance;
  ASSERT_TRUE(sys.value().set_conductances(g * 0.5).is_ok());
  ASSERT_TRUE(sys.value().factorize().is_ok());
  g.row(0).setZero();
  // A clone of the analyzed system (a layer's tile: the search ran once, at analyze()) too.
  CrossbarSystem copy = sys.value().clone();
  ASSERT_TRUE(sys.value().set_conductances(g).is_ok());
  const Status s = sys.value().factorize();
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kFloatingNode);
  EXPECT_NE(s.message().find("w0_"), std::string::npos) << s.message();
  ASSERT_TRUE(copy.set_conductances(g).is_ok());
  const Status c = copy.factorize();
  EXPECT_EQ(c.code(), StatusCode::kFloatingNode) << c.message();
  // And a clone of a system that was only analyzed (the search ran at analyze() alone).
  auto fresh = CrossbarSystem::assemble(x);
  ASSERT_TRUE(fresh.is_ok());
  ASSERT_TRUE(fresh.value().analyze().is_ok());
  CrossbarSystem tile = fresh.value().clone();
  ASSERT_TRUE(tile.set_conductances(g).is_ok());
  const Status t = tile.factorize();
  EXPECT_EQ(t.code(), StatusCode::kFloatingNode) << t.message();
  ASSERT_TRUE(tile.set_conductances(x.conductance).is_ok());
  EXPECT_TRUE(tile.factorize().is_ok());
}

// A supernodal CHOLMOD factor cloned before its factorization: the clone re-stamps, factorizes
// and gives T and a block of inputs as a fresh system does; solving a factor that was only
// analyzed is an error, not a crash.
TEST(System, ASupernodalCloneAndAnUnfactorizedSolve) {
  std::mt19937_64 rng(68);
  const Crossbar x = testing::random_crossbar(rng, 96, 80, 100.0, 2.5, 2.5, 100.0);
  const Crossbar y = testing::random_crossbar(rng, 96, 80, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 40, 96, 0.0, 0.2);
  auto proto = CrossbarSystem::assemble(
      x, {Backend::kCholmod, solver::Ordering::kNestedDissection, Mode::kTransfer});
  ASSERT_TRUE(proto.is_ok());
  ASSERT_TRUE(proto.value().analyze().is_ok());
  ASSERT_NE(proto.value().stats().factor.method.find("supernodal"), std::string::npos);
  CrossbarSystem copy = proto.value().clone();
  ASSERT_TRUE(copy.set_conductances(y.conductance).is_ok());
  ASSERT_TRUE(copy.factorize().is_ok());
  auto t = copy.transfer_matrix(1, true);
  ASSERT_TRUE(t.is_ok());
  auto fresh = solver::transfer_matrix(y);
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_LT(rel_diff(t.value().t, fresh.value().transfer.t), 1e-12);
  auto got = copy.solve(v);
  ASSERT_TRUE(got.is_ok());
  EXPECT_LT(rel_diff(got.value().column_current, v * fresh.value().transfer.t.transpose()), 1e-12);
  // The backend itself, analyzed only.
  auto backend = solver::make_linear_solver(Backend::kCholmod);
  ASSERT_TRUE(backend->analyze(copy.matrix()).is_ok());
  Eigen::MatrixXd b = Eigen::MatrixXd::Ones(copy.matrix().rows(), 3);
  EXPECT_FALSE(backend->solve(b, 1).is_ok());
  Eigen::MatrixXd bt = Eigen::MatrixXd::Ones(3, copy.matrix().rows());
  EXPECT_FALSE(backend->solve_node_major(bt, 2).is_ok());
}

// A solution with a NaN or an Inf fails with the node named, never as numbers.
TEST(System, ANonFiniteSolutionFailsWithTheNodeNamed) {
  const Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(2, 2, 1e-4), 1.0, 1.0, 1.0, 1.0);
  int failed = 0;
  for (Backend b : solver::all_backends()) {
    auto run = solver::solve_crossbar(x, Eigen::MatrixXd::Constant(1, 2, 1.7e308), {b});
    if (run.is_ok()) {  // KLU scales its rows and gets through: then the numbers are finite
      EXPECT_TRUE(run.value().solution.column_current.allFinite()) << solver::to_string(b);
      continue;
    }
    ++failed;
    EXPECT_TRUE(core::is_solver_failure(run.status().code()));
    EXPECT_NE(run.status().message().find("the node voltage at node w0_0 is "), std::string::npos)
        << run.status().message();
  }
  EXPECT_GE(failed, 1);  // CHOLMOD and the dense LLT overflow
  // Conductances whose sums overflow fail at the factorization, with the node named.
  const Crossbar huge =
      Crossbar::uniform(Eigen::MatrixXd::Constant(3, 3, 1e308), 1.0, 1.0, 1.0, 1.0);
  auto run = solver::solve_crossbar(huge, Eigen::MatrixXd::Constant(1, 3, 0.1));
  ASSERT_FALSE(run.is_ok());
  EXPECT_NE(run.status().message().find("node b0_0"), std::string::npos) << run.status().message();
}

// Every solve reports a forward-error bound (residual x the factor's condition estimate), and
// fails when it exceeds kAccuracyTolerance: here a bit-line node held only by a 1e-18 S cell
// among 1e-4 S cells and 2.5 ohm lines.
TEST(System, TheAccuracyCheckCanFail) {
  std::mt19937_64 rng(48);
  Crossbar x = testing::random_crossbar(rng, 6, 5, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 1, 6, 0.0, 0.2);
  auto fine = solver::solve_crossbar(x, v);
  ASSERT_TRUE(fine.is_ok());
  EXPECT_GT(fine.value().solution.condition_estimate, 1.0);
  EXPECT_LT(fine.value().solution.error_bound, 1e-12);
  EXPECT_NEAR(fine.value().solution.error_bound,
              fine.value().solution.relative_residual * fine.value().solution.condition_estimate,
              1e-30);
  x.conductance(2, 3) = 1e-18;
  x.r_bitline(1, 3) = netlists::kOpen;  // b(2,3) between two open segments
  x.r_bitline(2, 3) = netlists::kOpen;
  for (Backend b : {Backend::kCholmod, Backend::kDense}) {
    auto run = solver::solve_crossbar(x, v, {b});
    ASSERT_FALSE(run.is_ok()) << solver::to_string(b);
    EXPECT_EQ(run.status().code(), StatusCode::kSingular);
    EXPECT_NE(run.status().message().find("> tolerance 0.001"), std::string::npos)
        << run.status().message();
  }
}

// The status a Newton loop will return names what iterated, how often, and where it stopped.
TEST(StatusOr, NoConvergenceSaysIterationsResidualAndTolerance) {
  const Status s = Status::no_convergence("Newton on tile 3", 50, 3.2e-7, 1e-10);
  EXPECT_EQ(s.code(), StatusCode::kNoConvergence);
  EXPECT_EQ(s.to_string(),
            "no convergence: Newton on tile 3: stopped after 50 iteration(s) with residual "
            "3.200e-07 > tolerance 1.000e-10");
  EXPECT_TRUE(core::is_solver_failure(s.code()));
  EXPECT_FALSE(core::is_solver_failure(StatusCode::kFailedPrecondition));
}

// KLU re-uses the previous pivot order on refactorization; when a pivot of that order becomes
// zero, it must factorize afresh instead of failing.
TEST(Backends, KluRefactorizationFallsBackToAFreshFactorization) {
  auto klu = solver::make_linear_solver(Backend::kKlu);
  solver::SparseMatrix a(2, 2);
  a.insert(0, 0) = 2.0;
  a.insert(0, 1) = 1.0;
  a.insert(1, 0) = 1.0;
  a.insert(1, 1) = 2.0;
  a.makeCompressed();
  ASSERT_TRUE(klu->analyze(a).is_ok());
  ASSERT_TRUE(klu->factorize(a).is_ok());
  a.coeffRef(0, 0) = 3.0;  // new values, pivots still fine: refactorized in the same order
  ASSERT_TRUE(klu->factorize(a).is_ok());
  EXPECT_NE(klu->stats().method.find("refactorized"), std::string::npos) << klu->stats().method;
  a.coeffRef(0, 0) = 0.0;  // same pattern; the first pivot of the previous order is now zero
  const Status s = klu->factorize(a);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(klu->stats().method.find("refactorized"), std::string::npos) << klu->stats().method;
  Eigen::MatrixXd b(2, 1);
  b << 1.0, 4.0;  // [0 1; 1 2] x = [1; 4]  ->  x = [2; 1]
  ASSERT_TRUE(klu->solve(b, 1).is_ok());
  EXPECT_NEAR(b(0, 0), 2.0, 1e-15);
  EXPECT_NEAR(b(1, 0), 1.0, 1e-15);
  // A pivot that is tiny but not zero in the reused order (rcond 1e-20 against 0.75 fresh):
  // refactorized afresh too, and accurate.
  a.coeffRef(0, 0) = 2.0;
  ASSERT_TRUE(klu->analyze(a).is_ok());  // a fresh start: the diagonal pivot order
  ASSERT_TRUE(klu->factorize(a).is_ok());
  a.coeffRef(0, 0) = 1e-10;
  ASSERT_TRUE(klu->factorize(a).is_ok());
  EXPECT_EQ(klu->stats().method.find("refactorized"), std::string::npos) << klu->stats().method;
  b << 1.0, 4.0;  // [1e-10 1; 1 2] x = [1; 4]
  ASSERT_TRUE(klu->solve(b, 1).is_ok());
  const double x1 = (1.0 - 4.0 * 1e-10) / (1.0 - 2e-10);  // by Cramer's rule
  EXPECT_NEAR(b(1, 0), x1, 1e-15);
  EXPECT_NEAR(b(0, 0), 4.0 - 2.0 * x1, 1e-14);
}

}  // namespace
}  // namespace xbarnet
