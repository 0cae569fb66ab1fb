#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include "reference_mna.hpp"
#include "solver/crossbar_system.hpp"
#include "solver/ordering.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using netlists::Crossbar;
using netlists::kOpen;
using solver::Backend;
using solver::CrossbarSolution;
using solver::SolveOptions;
using testing::rel_diff;

CrossbarSolution solve_or_die(const Crossbar& x, const Eigen::MatrixXd& v, SolveOptions opt = {},
                              solver::SystemOptions sys = {}) {
  auto run = solver::solve_crossbar(x, v, sys, opt);
  EXPECT_TRUE(run.is_ok()) << run.status().to_string();
  return run.is_ok() ? run.value().solution : CrossbarSolution{};
}

// --------------------------------------------------------------------------- closed forms

TEST(ClosedForm, ZeroParasiticsGiveGTransposeV) {
  std::mt19937_64 rng(1);
  const Crossbar x = testing::random_crossbar(rng, 37, 23, 0.0, 0.0, 0.0, 0.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 5, 37, -0.3, 0.3);
  for (Backend b : solver::all_backends()) {
    solver::SystemOptions sys;
    sys.backend = b;
    const CrossbarSolution s = solve_or_die(x, v, {}, sys);
    const Eigen::MatrixXd ideal = v * x.conductance;  // row k: (G^T v_k)^T
    EXPECT_LT(rel_diff(s.column_current, ideal), 1e-12) << solver::to_string(b);
  }
}

// Uniform ladder with series resistance r per segment and shunt conductance g per node,
// open at the far end: V_k = A cosh(theta (n - 1/2 - k)), cosh(theta) = 1 + r g / 2.
double ladder_profile(double theta, int n, int k) { return std::cosh(theta * (n - 0.5 - k)); }

TEST(ClosedForm, SingleRowLadder) {
  // One word line of n cells; each cell G in series with its neuron R_n to ground.
  const int n = 64;
  const double g_cell = 5e-5, rs = 150.0, rw = 3.0, rn = 40.0, vin = 0.25;
  const Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(1, n, g_cell), rs, rw, 7.0, rn);
  const CrossbarSolution s = solve_or_die(x, Eigen::MatrixXd::Constant(1, 1, vin));

  const double g = 1.0 / (1.0 / g_cell + rn);  // cell and neuron in series
  const double theta = std::acosh(1.0 + rw * g / 2.0);
  const double a = (vin / rs) / ((1.0 / rs + g + 1.0 / rw) * ladder_profile(theta, n, 0) -
                                 ladder_profile(theta, n, 1) / rw);
  for (int j = 0; j < n; ++j) {
    const double expected = g * a * ladder_profile(theta, n, j);
    EXPECT_NEAR(s.column_current(0, j), expected, 1e-12 * std::abs(expected)) << "column " << j;
  }
  // IR drop grows along the word line: the last column gets the least current.
  EXPECT_LT(s.column_current(0, n - 1), s.column_current(0, 0));
}

TEST(ClosedForm, SingleColumnLadder) {
  // One bit line of n cells, every row driven at V through R_s; the bit line ends in R_n.
  const int n = 48;
  const double g_cell = 8e-5, rs = 60.0, rb = 2.0, rn = 90.0, vin = 0.3;
  const Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(n, 1, g_cell), rs, 5.0, rb, rn);
  const CrossbarSolution s = solve_or_die(x, Eigen::MatrixXd::Constant(1, n, vin));

  // u_i = V - V(b_i) = A cosh(theta (i + 1/2)) with the top end open.
  const double g = 1.0 / (rs + 1.0 / g_cell);
  const double theta = std::acosh(1.0 + rb * g / 2.0);
  const double a = (vin / rn) / ((g + 1.0 / rb + 1.0 / rn) * std::cosh(theta * (n - 0.5)) -
                                 std::cosh(theta * (n - 1.5)) / rb);
  const double expected = (vin - a * std::cosh(theta * (n - 0.5))) / rn;
  EXPECT_NEAR(s.column_current(0, 0), expected, 1e-12 * expected);
}

// The 2 x 2 example worked by hand in docs/model.md.
TEST(ClosedForm, TwoByTwoWorkedExample) {
  Eigen::MatrixXd g(2, 2);
  g << 1.0 / 1000, 1.0 / 500, 1.0 / 250, 1.0 / 200;
  const Crossbar x = Crossbar::uniform(g, 0.0, 100.0, 100.0, 0.0);
  Eigen::MatrixXd v(1, 2);
  v << 1.0, 0.5;
  SolveOptions opt;
  opt.node_voltages = true;
  auto run = solver::solve_crossbar(x, v, {}, opt);
  ASSERT_TRUE(run.is_ok()) << run.status().to_string();
  const CrossbarSolution& s = run.value().solution;
  // I_0 = V_0 / (1/G00 + r_b) + G10 V_1,  I_1 = V_0 / (r_w + 1/G01 + r_b) + V_1 / (r_w + 1/G11)
  EXPECT_NEAR(s.column_current(0, 0), 1.0 / 1100 + 0.5 / 250, 1e-15);
  EXPECT_NEAR(s.column_current(0, 1), 1.0 / 700 + 0.5 / 300, 1e-15);
  // Four of the eight grid nodes are merged into driven nodes: 4 unknowns.
  EXPECT_EQ(run.value().stats.unknowns, 4);
  // Node voltages: b(0,0) = V_0 r_b / (1/G00 + r_b) = 1/11 V.
  EXPECT_NEAR(s.bit_voltage[0](0, 0), 100.0 / 1100.0, 1e-15);
  EXPECT_NEAR(s.word_voltage[0](0, 1), 1.0 - 100.0 / 700.0, 1e-15);
}

TEST(ClosedForm, SuperpositionInTheInputs) {
  std::mt19937_64 rng(2);
  const Crossbar x = testing::random_crossbar(rng, 20, 30, 120.0, 2.5, 1.5, 80.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 2, 20, -0.2, 0.2);
  Eigen::MatrixXd block(3, 20);
  block.row(0) = v.row(0);
  block.row(1) = v.row(1);
  block.row(2) = 2.0 * v.row(0) - 3.0 * v.row(1);
  const CrossbarSolution s = solve_or_die(x, block);
  const Eigen::RowVectorXd combined = 2.0 * s.column_current.row(0) - 3.0 * s.column_current.row(1);
  EXPECT_LT(rel_diff(s.column_current.row(2), combined), 1e-12);
}

TEST(ClosedForm, IrDropIsZeroWithoutParasitics) {
  std::mt19937_64 rng(3);
  const Crossbar x = testing::random_crossbar(rng, 6, 9, 0.0, 0.0, 0.0, 0.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 1, 6, 0.0, 0.2);
  SolveOptions opt;
  opt.node_voltages = true;
  const CrossbarSolution s = solve_or_die(x, v, opt);
  const Eigen::MatrixXd intended = v.transpose().replicate(1, 9);
  EXPECT_EQ((s.cell_voltage(0) - intended).cwiseAbs().maxCoeff(), 0.0);
}

// ------------------------------------------------------- every backend, every thread count

class EveryBackend : public ::testing::TestWithParam<std::tuple<Backend, int, solver::Mode>> {};

TEST_P(EveryBackend, AgreesWithTheDenseReferenceAndTheMnaOracle) {
  const auto [backend, threads, mode] = GetParam();
  std::mt19937_64 rng(4);
  Crossbar x = testing::random_crossbar(rng, 13, 17, 50.0, 2.0, 3.0, 75.0);
  // Mixed parasitics: some ideal wires, an ideal driver, an ideal virtual ground, unequal values.
  x.r_source(3) = 0.0;
  x.r_wordline.row(5).setZero();
  x.r_bitline.col(7).setZero();
  x.r_neuron(7) = 0.0;
  x.r_neuron(2) = 0.0;
  x.r_wordline(1, 4) = 11.0;
  x.conductance(6, 6) = 0.0;
  const Eigen::MatrixXd v = testing::random_matrix(rng, 9, 13, -0.25, 0.25);

  solver::SystemOptions reference;
  reference.backend = Backend::kDense;
  const CrossbarSolution ref = solve_or_die(x, v, {}, reference);
  solver::SystemOptions sys;
  sys.backend = backend;
  sys.mode = mode;
  SolveOptions opt;
  opt.threads = threads;
  opt.node_voltages = true;
  const CrossbarSolution s = solve_or_die(x, v, opt, sys);
  EXPECT_LT(rel_diff(s.column_current, ref.column_current), 1e-10);
  EXPECT_LT(rel_diff(s.column_current, testing::reference_mna(x, v)), 1e-10);
  EXPECT_LT(s.relative_residual, 1e-14);
}

INSTANTIATE_TEST_SUITE_P(
    Solver, EveryBackend,
    ::testing::Combine(::testing::Values(Backend::kCholmod, Backend::kKlu, Backend::kDense),
                       ::testing::Values(1, 2, 3),
                       ::testing::Values(solver::Mode::kDriven, solver::Mode::kTransfer)),
    [](const auto& param_info) {
      return std::string(solver::to_string(std::get<0>(param_info.param))) + "_" +
             std::to_string(std::get<1>(param_info.param)) + "threads_" +
             std::string(solver::to_string(std::get<2>(param_info.param)));
    });

// ------------------------------------------------ zero and open resistances, against MNA

TEST(Topology, RandomTilesWithZerosAndOpensMatchTheMnaOracle) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 25; ++trial) {
    const Eigen::Index r = 1 + static_cast<Eigen::Index>(rng() % 9);
    const Eigen::Index c = 1 + static_cast<Eigen::Index>(rng() % 9);
    auto pick = [&](double typical) {
      const auto u = rng() % 6;
      return u == 0 ? 0.0 : typical * testing::uniform(rng, 0.5, 2.0);
    };
    Crossbar x;
    x.conductance = testing::random_matrix(rng, r, c, 1e-5, 1e-4);
    x.r_source = Eigen::VectorXd::NullaryExpr(r, [&] { return pick(100.0); });
    x.r_wordline = Eigen::MatrixXd::NullaryExpr(r, c - 1, [&] { return pick(3.0); });
    x.r_bitline = Eigen::MatrixXd::NullaryExpr(r - 1, c, [&] { return pick(3.0); });
    x.r_neuron = Eigen::VectorXd::NullaryExpr(c, [&] { return pick(50.0); });
    if (c > 1 && rng() % 3 == 0) x.r_neuron(0) = kOpen;  // an unsensed column
    if (rng() % 3 == 0) x.conductance(0, 0) = 0.0;
    const Eigen::MatrixXd v = testing::random_matrix(rng, 2, r, 0.0, 0.3);
    const CrossbarSolution s = solve_or_die(x, v);
    const Eigen::MatrixXd ref = testing::reference_mna(x, v);
    EXPECT_LT(rel_diff(s.column_current, ref), 1e-10) << "trial " << trial << " " << r << "x" << c;
  }
}

TEST(Topology, AllShortsLeaveNoUnknowns) {
  std::mt19937_64 rng(6);
  const Crossbar x = testing::random_crossbar(rng, 4, 5, 0.0, 0.0, 0.0, 0.0);
  auto run = solver::solve_crossbar(x, Eigen::MatrixXd::Ones(1, 4));
  ASSERT_TRUE(run.is_ok());
  EXPECT_EQ(run.value().stats.unknowns, 0);
  EXPECT_EQ(run.value().stats.shorts, 4 + 4 * 4 + 3 * 5 + 5);
}

TEST(Topology, UndrivenRowWithZeroCellsIsReportedAsFloating) {
  std::mt19937_64 rng(7);
  Crossbar x = testing::random_crossbar(rng, 5, 4, 100.0, 2.0, 2.0, 50.0);
  x.r_source(2) = kOpen;
  x.conductance.row(2).setZero();
  auto run = solver::solve_crossbar(x, Eigen::MatrixXd::Ones(1, 5));
  ASSERT_FALSE(run.is_ok());
  EXPECT_EQ(run.status().code(), StatusCode::kFloatingNode);
  EXPECT_NE(run.status().message().find("node w2_"), std::string::npos) << run.status().message();
  EXPECT_NE(run.status().message().find("4 floating"), std::string::npos) << run.status().message();
}

TEST(Topology, UndrivenRowWithCellsFloatsToTheBitLineVoltages) {
  std::mt19937_64 rng(8);
  Crossbar x = testing::random_crossbar(rng, 5, 4, 100.0, 2.0, 2.0, 50.0);
  x.r_source(2) = kOpen;
  Eigen::MatrixXd v = testing::random_matrix(rng, 2, 5, 0.0, 0.3);
  v.row(1) = v.row(0);
  v(1, 2) = v(0, 2) + 1.0;  // only the undriven row's input differs
  const CrossbarSolution s = solve_or_die(x, v);
  EXPECT_LT(rel_diff(s.column_current.row(1), s.column_current.row(0)), 1e-14);
  EXPECT_LT(rel_diff(s.column_current, testing::reference_mna(x, v)), 1e-10);
}

TEST(Reuse, RestampedConductancesEqualAFreshAssembly) {
  std::mt19937_64 rng(9);
  const Crossbar x = testing::random_crossbar(rng, 16, 12, 80.0, 2.0, 2.0, 40.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 3, 16, 0.0, 0.2);
  auto system = solver::CrossbarSystem::assemble(x);
  ASSERT_TRUE(system.is_ok());
  ASSERT_TRUE(system.value().analyze().is_ok());
  ASSERT_TRUE(system.value().factorize().is_ok());
  Crossbar y = x;
  y.conductance = testing::random_matrix(rng, 16, 12, 1e-5, 1e-4);
  y.conductance(4, 4) = 0.0;
  ASSERT_TRUE(system.value().set_conductances(y.conductance).is_ok());
  ASSERT_TRUE(system.value().factorize().is_ok());
  auto again = system.value().solve(v, {});
  ASSERT_TRUE(again.is_ok());
  const CrossbarSolution fresh = solve_or_die(y, v);
  EXPECT_LT(rel_diff(again.value().column_current, fresh.column_current), 1e-13);
}

TEST(Reuse, RejectsBadConductancesWithoutChangingTheSystem) {
  std::mt19937_64 rng(10);
  const Crossbar x = testing::random_crossbar(rng, 3, 3, 80.0, 2.0, 2.0, 40.0);
  auto system = solver::CrossbarSystem::assemble(x);
  ASSERT_TRUE(system.is_ok());
  Eigen::MatrixXd bad = x.conductance;
  bad(1, 2) = -1e-5;
  const Status s = system.value().set_conductances(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("conductance[1,2] = -1e-05 S"), std::string::npos) << s.message();
  EXPECT_EQ(system.value().crossbar().conductance, x.conductance);
}

TEST(Ordering, NestedDissectionIsAPermutationOfTheGridNodes) {
  for (auto [r, c] : {std::pair<Eigen::Index, Eigen::Index>{1, 1}, {1, 40}, {33, 7}, {64, 64}}) {
    std::vector<std::int64_t> order = solver::grid_nested_dissection(r, c);
    ASSERT_EQ(static_cast<Eigen::Index>(order.size()), 2 * r * c);
    std::sort(order.begin(), order.end());
    for (std::int64_t k = 0; k < 2 * r * c; ++k) ASSERT_EQ(order[k], k);
  }
}

TEST(Ordering, BothOrderingsGiveTheSameCurrents) {
  std::mt19937_64 rng(12);
  Crossbar x = testing::random_crossbar(rng, 48, 40, 90.0, 2.0, 3.0, 60.0);
  x.r_wordline.row(3).setZero();  // a merged row spans every separator
  const Eigen::MatrixXd v = testing::random_matrix(rng, 2, 48, 0.0, 0.2);
  solver::SystemOptions nd, own;
  own.ordering = solver::Ordering::kBackend;
  auto a = solver::solve_crossbar(x, v, nd);
  auto b = solver::solve_crossbar(x, v, own);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_LT(rel_diff(a.value().solution.column_current, b.value().solution.column_current), 1e-12);
}

// At unit-array sizes the grid's nested dissection fills less than CHOLMOD's own choice
// (measured at 128 x 128: 604,631 vs 688,682 non-zeros in L).
TEST(Ordering, NestedDissectionFillsLessAt128) {
  std::mt19937_64 rng(13);
  const Crossbar x = testing::random_crossbar(rng, 128, 128, 100.0, 2.5, 2.5, 100.0);
  auto nd = solver::CrossbarSystem::assemble(
      x, {Backend::kCholmod, solver::Ordering::kNestedDissection, solver::Mode::kDriven});
  auto own = solver::CrossbarSystem::assemble(
      x, {Backend::kCholmod, solver::Ordering::kBackend, solver::Mode::kDriven});
  ASSERT_TRUE(nd.is_ok() && own.is_ok());
  ASSERT_TRUE(nd.value().analyze().is_ok() && own.value().analyze().is_ok());
  EXPECT_LT(static_cast<double>(nd.value().stats().factor.nnz_factor),
            0.9 * static_cast<double>(own.value().stats().factor.nnz_factor));
}

TEST(Solve, RejectsInputsOfTheWrongLength) {
  std::mt19937_64 rng(11);
  const Crossbar x = testing::random_crossbar(rng, 3, 3, 80.0, 2.0, 2.0, 40.0);
  auto run = solver::solve_crossbar(x, Eigen::MatrixXd::Ones(1, 4));
  ASSERT_FALSE(run.is_ok());
  EXPECT_NE(run.status().message().find("4 values per vector, the crossbar has 3 rows"),
            std::string::npos);
}

}  // namespace
}  // namespace xbarnet

namespace xbarnet {
namespace {

using netlists::Crossbar;
using solver::Backend;
using solver::SolveOptions;
using testing::rel_diff;

// ------------------------------------------------------------------- transfer matrix

Eigen::MatrixXd schur_t(const Crossbar& x, Backend b = Backend::kCholmod) {
  auto t = solver::transfer_matrix(x, b);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? t.value().transfer.t : Eigen::MatrixXd();
}

Eigen::MatrixXd solves_t(const Crossbar& x) {
  auto t = solver::transfer_matrix_by_solves(x);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? t.value().transfer.t : Eigen::MatrixXd();
}

TEST(Transfer, SchurComplementEqualsColumnByColumnSolves) {
  std::mt19937_64 rng(20);
  for (auto [r, c] :
       {std::pair<Eigen::Index, Eigen::Index>{1, 1}, {1, 9}, {9, 1}, {17, 23}, {64, 64}}) {
    const Crossbar x = testing::random_crossbar(rng, r, c, 120.0, 2.0, 3.0, 80.0);
    const Eigen::MatrixXd ref = solves_t(x);
    EXPECT_LT(rel_diff(schur_t(x), ref), 1e-11) << r << "x" << c;
    if (r * c <= 400) {  // the dense reference needs (2RC)^2 doubles
      EXPECT_LT(rel_diff(schur_t(x, Backend::kDense), ref), 1e-11) << r << "x" << c;
    }
    EXPECT_LT(rel_diff(schur_t(x, Backend::kKlu), ref), 1e-11) << r << "x" << c;
  }
}

TEST(Transfer, ZeroAndOpenParasiticsAreExact) {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 20; ++trial) {
    const Eigen::Index r = 1 + static_cast<Eigen::Index>(rng() % 12);
    const Eigen::Index c = 1 + static_cast<Eigen::Index>(rng() % 12);
    auto pick = [&](double typical) {
      const auto u = rng() % 6;
      return u == 0 ? 0.0 : (u == 1 ? netlists::kOpen : typical * testing::uniform(rng, 0.5, 2));
    };
    Crossbar x;
    x.conductance = testing::random_matrix(rng, r, c, 1e-5, 1e-4);
    x.r_source = Eigen::VectorXd::NullaryExpr(r, [&] { return pick(100.0); });
    x.r_wordline = Eigen::MatrixXd::NullaryExpr(r, c - 1, [&] { return rng() % 4 ? 3.0 : 0.0; });
    x.r_bitline = Eigen::MatrixXd::NullaryExpr(r - 1, c, [&] { return rng() % 4 ? 3.0 : 0.0; });
    x.r_neuron = Eigen::VectorXd::NullaryExpr(c, [&] { return pick(50.0); });
    const Eigen::MatrixXd ref = solves_t(x);
    const Eigen::MatrixXd t = schur_t(x);
    // Entries of an open column or an undriven row are exactly zero in both.
    EXPECT_LT((t - ref).cwiseAbs().maxCoeff(), 1e-11 * std::max(ref.cwiseAbs().maxCoeff(), 1e-30))
        << "trial " << trial << " " << r << "x" << c;
  }
}

TEST(Transfer, IdealTileGivesGTranspose) {
  std::mt19937_64 rng(22);
  const Crossbar x = testing::random_crossbar(rng, 30, 20, 0.0, 0.0, 0.0, 0.0);
  EXPECT_LT(rel_diff(schur_t(x), x.conductance.transpose()), 1e-13);
}

TEST(Transfer, AppliedToInputsGivesTheSolvedCurrents) {
  std::mt19937_64 rng(23);
  const Crossbar x = testing::random_crossbar(rng, 40, 36, 100.0, 2.5, 2.5, 100.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 7, 40, -0.2, 0.2);
  auto run = solver::solve_crossbar(x, v);
  ASSERT_TRUE(run.is_ok());
  EXPECT_LT(rel_diff(v * schur_t(x).transpose(), run.value().solution.column_current), 1e-11);
}

}  // namespace
}  // namespace xbarnet
