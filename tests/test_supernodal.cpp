// The supernodal Cholesky of solver/supernodal.hpp against CHOLMOD's own numeric factorization
// (independent code) on the same symbolic analysis, and through the crossbar solver against KLU's
// LU.
#include <cholmod.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <Eigen/Cholesky>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/memory.hpp"

#include "solver/crossbar_system.hpp"
#include "solver/ordering.hpp"
#include "solver/supernodal.hpp"
#include "test_util.hpp"

namespace xbarnet {
namespace {

using solver::SparseMatrix;

// A w x h grid graph with random positive edge weights, diagonal = row sum + `shift`; both
// triangles stored. SPD for shift > 0.
SparseMatrix grid_matrix(std::int64_t w, std::int64_t h, double shift, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 2.0);
  const std::int64_t n = w * h;
  std::vector<Eigen::Triplet<double, std::int64_t>> t;
  std::vector<double> diag(static_cast<size_t>(n), shift);
  auto edge = [&](std::int64_t a, std::int64_t b) {
    const double g = u(rng);
    t.emplace_back(a, b, -g);
    t.emplace_back(b, a, -g);
    diag[a] += g;
    diag[b] += g;
  };
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      if (x + 1 < w) edge(y * w + x, y * w + x + 1);
      if (y + 1 < h) edge(y * w + x, (y + 1) * w + x);
      if (x + 1 < w && y + 1 < h) edge(y * w + x, (y + 1) * w + x + 1);
    }
  }
  for (std::int64_t k = 0; k < n; ++k) t.emplace_back(k, k, diag[k]);
  SparseMatrix a(n, n);
  a.setFromTriplets(t.begin(), t.end());
  a.makeCompressed();
  return a;
}

cholmod_sparse view_of(const SparseMatrix& a) {
  cholmod_sparse v{};
  v.nrow = v.ncol = static_cast<size_t>(a.rows());
  v.nzmax = static_cast<size_t>(a.nonZeros());
  v.p = const_cast<std::int64_t*>(a.outerIndexPtr());
  v.i = const_cast<std::int64_t*>(a.innerIndexPtr());
  v.x = const_cast<double*>(a.valuePtr());
  v.stype = -1;
  v.itype = CHOLMOD_LONG;
  v.xtype = CHOLMOD_REAL;
  v.dtype = CHOLMOD_DOUBLE;
  v.sorted = 1;
  v.packed = 1;
  return v;
}

struct Factored {
  std::vector<double> cholmod_x;  // CHOLMOD's values
  std::vector<double> ours_x;     // SupernodalCholesky's, same layout
  std::int64_t cholmod_minor = -1, ours_minor = -1;
  double cholmod_rcond = -1.0, ours_rcond = -1.0;  // cholmod_rcond's, and the one recorded
};

// Analyzes `a` once with CHOLMOD (supernodal forced; natural order = AMD when `given` is
// empty), then factorizes it with CHOLMOD and with SupernodalCholesky on that analysis; the
// latter first factorizes `before` (values of the same pattern; null: `a` itself), so that what
// a factorization leaves behind is seen if it matters.
Factored factor_both(const SparseMatrix& a, std::vector<std::int64_t> given,
                     const SparseMatrix* before = nullptr) {
  cholmod_common c;
  cholmod_l_start(&c);
  c.print = 0;
  c.error_handler = nullptr;
  c.supernodal = CHOLMOD_SUPERNODAL;
  c.final_ll = 1;
  if (!given.empty()) {
    c.nmethods = 1;
    c.method[0].ordering = CHOLMOD_GIVEN;
    c.postorder = 0;
  }
  cholmod_sparse v = view_of(a);
  cholmod_factor* f = given.empty() ? cholmod_l_analyze(&v, &c)
                                    : cholmod_l_analyze_p(&v, given.data(), nullptr, 0, &c);
  EXPECT_NE(f, nullptr);
  Factored out;
  if (f == nullptr) return out;
  EXPECT_TRUE(f->is_super);
  cholmod_factor* mine = cholmod_l_copy_factor(f, &c);
  cholmod_l_factorize(&v, f, &c);
  out.cholmod_minor = f->minor < f->n ? static_cast<std::int64_t>(f->minor) : -1;
  out.cholmod_rcond = cholmod_l_rcond(f, &c);
  EXPECT_TRUE(cholmod_l_change_factor(CHOLMOD_REAL, 1, 1, 1, 1, mine, &c));
  solver::SupernodalLayout l;
  l.n = static_cast<std::int64_t>(mine->n);
  l.nsuper = static_cast<std::int64_t>(mine->nsuper);
  l.super = static_cast<const std::int64_t*>(mine->super);
  l.pi = static_cast<const std::int64_t*>(mine->pi);
  l.px = static_cast<const std::int64_t*>(mine->px);
  l.s_rows = static_cast<const std::int64_t*>(mine->s);
  l.xsize = static_cast<std::int64_t>(mine->xsize);
  solver::SupernodalCholesky chol;
  chol.prepare(l, a, static_cast<const std::int64_t*>(mine->Perm));
  auto* x = static_cast<double*>(mine->x);
  EXPECT_TRUE(chol.matches(a));
  (void)chol.factorize(l, (before != nullptr ? *before : a).valuePtr(), x);
  out.ours_minor = chol.factorize(l, a.valuePtr(), x);
  out.ours_rcond = chol.rcond();
  const auto* cx = static_cast<const double*>(f->x);
  out.cholmod_x.assign(cx, cx + f->xsize);
  out.ours_x.assign(x, x + mine->xsize);
  cholmod_l_free_factor(&f, &c);
  cholmod_l_free_factor(&mine, &c);
  cholmod_l_finish(&c);
  return out;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0, scale = 0.0;
  for (size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, std::abs(a[k] - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return diff / scale;
}

TEST(Supernodal, EqualsCholmodOnGridsWithGivenAndAmdOrders) {
  std::mt19937_64 rng(21);
  // Small grids exercise the plain loops only, larger ones the BLAS calls as well.
  for (const auto& [w, h] : {std::pair<std::int64_t, std::int64_t>{7, 5}, {40, 33}, {90, 70}}) {
    const SparseMatrix a = grid_matrix(w, h, 1e-3, rng);
    for (bool given : {false, true}) {
      std::vector<std::int64_t> order;
      if (given) {
        // A nested dissection of the grid's nodes (pairs of unknowns per cell, as the solver
        // numbers them): unknown 2 * cell and 2 * cell + 1 exist only for cells < n / 2.
        for (std::int64_t code : solver::grid_nested_dissection(h, w)) {
          if (code % 2 == 0) order.push_back(code / 2);
        }
      }
      const Factored f = factor_both(a, order);
      ASSERT_EQ(f.cholmod_x.size(), f.ours_x.size());
      EXPECT_EQ(f.cholmod_minor, -1);
      EXPECT_EQ(f.ours_minor, -1);
      EXPECT_LT(max_rel_diff(f.ours_x, f.cholmod_x), 1e-13)
          << w << " x " << h << " given " << given;
      // The condition estimate recorded while factorizing is cholmod_rcond's (of factors that
      // agree to 1e-13).
      EXPECT_GT(f.cholmod_rcond, 0.0);
      EXPECT_NEAR(f.ours_rcond, f.cholmod_rcond, 1e-12 * f.cholmod_rcond)
          << w << " x " << h << " given " << given;
    }
  }
}

TEST(Supernodal, StopsAtTheSamePivotAsCholmod) {
  std::mt19937_64 rng(22);
  SparseMatrix a = grid_matrix(60, 50, 1e-3, rng);
  // An indefinite matrix: one diagonal entry made negative.
  a.coeffRef(1234, 1234) = -1.0;
  const Factored f = factor_both(a, {});
  EXPECT_GE(f.cholmod_minor, 0);
  EXPECT_EQ(f.ours_minor, f.cholmod_minor);
  EXPECT_EQ(f.ours_rcond, -1.0);  // no estimate of an incomplete factor
}

TEST(Supernodal, RefactorizesNewValuesAfterOthersAndAfterAFailure) {
  std::mt19937_64 rng(24);
  const SparseMatrix a = grid_matrix(60, 50, 1e-3, rng);
  SparseMatrix other = a, indefinite = a;
  for (std::int64_t k = 0; k < other.nonZeros(); ++k) other.valuePtr()[k] *= 1.7;
  indefinite.coeffRef(40, 40) = -1.0;
  for (const SparseMatrix* before : {&other, &indefinite}) {
    const Factored f = factor_both(a, {}, before);
    EXPECT_EQ(f.ours_minor, -1);
    EXPECT_LT(max_rel_diff(f.ours_x, f.cholmod_x), 1e-13);
    EXPECT_NEAR(f.ours_rcond, f.cholmod_rcond, 1e-12 * f.cholmod_rcond);
  }
}

// CHOLMOD with a lower-triangle view reads only A's lower triangle; so does the own
// factorization (here the upper entries are wrong on purpose).
TEST(Supernodal, ReadsTheLowerTriangleAsCholmodDoes) {
  std::mt19937_64 rng(25);
  SparseMatrix a = grid_matrix(45, 40, 1e-3, rng);
  for (std::int64_t j = 0; j < a.outerSize(); ++j) {
    for (SparseMatrix::InnerIterator it(a, j); it; ++it) {
      if (it.row() < j) it.valueRef() *= 3.0;
    }
  }
  const Factored f = factor_both(a, {});
  EXPECT_EQ(f.ours_minor, -1);
  EXPECT_LT(max_rel_diff(f.ours_x, f.cholmod_x), 1e-13);
}

// A NaN pivot in a supernode large enough for dpotrf (which passes NaN, refusing only
// non-positive pivots) stops the factorization as a non-positive one does: the NaN is put on the
// diagonal of the unknown eliminated last (the top separator's supernode, 70 columns).
TEST(Supernodal, ANaNPivotStopsTheFactorization) {
  std::mt19937_64 rng(27);
  SparseMatrix a = grid_matrix(90, 70, 1e-3, rng);
  std::vector<std::int64_t> order;
  for (std::int64_t code : solver::grid_nested_dissection(70, 90)) {
    if (code % 2 == 0) order.push_back(code / 2);
  }
  const std::int64_t last = order.back();
  a.coeffRef(last, last) = std::nan("");
  const Factored f = factor_both(a, order);
  EXPECT_EQ(f.ours_minor, a.rows() - 1);
  EXPECT_EQ(f.ours_rcond, -1.0);
}

// A banded SPD matrix (half-bandwidth `band`), large enough for CHOLMOD to choose a supernodal
// factor; both triangles stored.
SparseMatrix banded_matrix(std::int64_t n, std::int64_t band, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 2.0);
  std::vector<Eigen::Triplet<double, std::int64_t>> t;
  std::vector<double> diag(static_cast<size_t>(n), 1e-3);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = i + 1; j < std::min(n, i + band + 1); ++j) {
      const double g = u(rng);
      t.emplace_back(i, j, -g);
      t.emplace_back(j, i, -g);
      diag[i] += g;
      diag[j] += g;
    }
  }
  for (std::int64_t k = 0; k < n; ++k) t.emplace_back(k, k, diag[k]);
  SparseMatrix a(n, n);
  a.setFromTriplets(t.begin(), t.end());
  a.makeCompressed();
  return a;
}

// Through the CHOLMOD backend: the condition estimate of a supernodal factor, of its clone and
// of the clone re-factorized with other values, against (min L_kk / max L_kk)^2 of a dense
// Cholesky of P A P^T in the same (given) order. A banded matrix, small enough for the dense
// oracle and with enough fill for CHOLMOD to choose a supernodal factor.
TEST(Supernodal, TheBackendsConditionEstimateIsItsFactors) {
  std::mt19937_64 rng(28);
  const std::int64_t n = 1200;
  const SparseMatrix a = banded_matrix(n, 40, rng);
  SparseMatrix b = a;
  for (std::int64_t k = 0; k < n / 2; ++k) b.coeffRef(k, k) += 50.0;  // not a rescaling
  std::vector<std::int64_t> order(static_cast<size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) order[k] = n - 1 - k;  // reversed: the band kept
  auto dense_rcond = [&](const SparseMatrix& m) {
    const Eigen::MatrixXd full(m);
    Eigen::MatrixXd p(n, n);
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j < n; ++j) p(i, j) = full(order[i], order[j]);
    }
    const Eigen::VectorXd d = Eigen::LLT<Eigen::MatrixXd>(p).matrixL().toDenseMatrix().diagonal();
    const double r = d.minCoeff() / d.maxCoeff();
    return r * r;
  };
  auto solver = solver::make_linear_solver(solver::Backend::kCholmod);
  ASSERT_TRUE(solver->analyze(a, order).is_ok());
  ASSERT_NE(solver->stats().method.find("supernodal"), std::string::npos) << solver->stats().method;
  ASSERT_TRUE(solver->factorize(a).is_ok());
  const double expect_a = dense_rcond(a), expect_b = dense_rcond(b);
  ASSERT_GT(std::abs(expect_a - expect_b), 1e-3 * expect_a);  // the values tell them apart
  EXPECT_NEAR(solver->rcond(), expect_a, 1e-12 * expect_a);
  auto copy = solver->clone();
  EXPECT_NEAR(copy->rcond(), expect_a, 1e-12 * expect_a);
  ASSERT_TRUE(copy->factorize(b).is_ok());
  EXPECT_NEAR(copy->rcond(), expect_b, 1e-12 * expect_b);
  EXPECT_NEAR(solver->rcond(), expect_a, 1e-12 * expect_a);
}

// The trailing unknowns kept as their Schur complement (a transfer-mode boundary): the
// complement read from the factor, the solves with those unknowns given, and the condition
// estimate, against a dense oracle (S = A_22 - A_21 A_11^-1 A_12, x_1 = A_11^-1 (b_1 - A_12 x_2),
// Eigen's dense Cholesky of A_11), for trailing blocks that start inside a supernode, at its
// start, span several supernodes or are a single unknown; and a clone keeps it.
TEST(Supernodal, AKeptSchurComplementIsTheDenseOne) {
  std::mt19937_64 rng(29);
  const std::int64_t n = 1200;
  const SparseMatrix a = banded_matrix(n, 40, rng);
  const Eigen::MatrixXd full(a);
  for (std::int64_t nb : {1, 29, 64, 300}) {
    const std::int64_t m = n - nb;
    // The leading block reversed (the band kept), the trailing nb last and in order.
    std::vector<std::int64_t> order;
    for (std::int64_t k = m - 1; k >= 0; --k) order.push_back(k);
    for (std::int64_t k = m; k < n; ++k) order.push_back(k);
    auto solver = solver::make_linear_solver(solver::Backend::kCholmod);
    solver->keep_schur_complement(nb);
    ASSERT_TRUE(solver->analyze(a, order).is_ok());
    ASSERT_NE(solver->stats().method.find("supernodal"), std::string::npos);
    ASSERT_TRUE(solver->factorize(a).is_ok());
    ASSERT_TRUE(solver->schur_complement_kept()) << nb;
    const Eigen::MatrixXd a11 = full.topLeftCorner(m, m), a12 = full.topRightCorner(m, nb);
    const Eigen::LLT<Eigen::MatrixXd> llt(a11);
    const Eigen::MatrixXd s_dense =
        full.bottomRightCorner(nb, nb) - a12.transpose() * llt.solve(a12);
    auto copy = solver->clone();
    for (solver::LinearSolver* f : {solver.get(), copy.get()}) {
      const std::int64_t cols = std::min<std::int64_t>(nb, 40);
      auto s = f->trailing_schur_complement(nb, cols);
      ASSERT_TRUE(s.is_ok()) << s.status().to_string();
      const Eigen::MatrixXd want = s_dense.leftCols(cols);
      // (Relative to A_22's entries, which S is a difference of: for one unknown S is 1e-3 of
      // them, and both sides' rounding is of their size.)
      const double scale = std::max(want.cwiseAbs().maxCoeff(),
                                    full.bottomRightCorner(nb, nb).cwiseAbs().maxCoeff());
      EXPECT_LT((s.value() - want).cwiseAbs().maxCoeff(), 1e-12 * scale) << "nb " << nb;
      // Solves with the trailing unknowns given: three right-hand sides (node-major), and one.
      Eigen::MatrixXd bt = Eigen::MatrixXd::Random(3, n);
      Eigen::MatrixXd want_x = bt;
      want_x.leftCols(m) =
          llt.solve(bt.leftCols(m).transpose() - a12 * bt.rightCols(nb).transpose()).transpose();
      ASSERT_TRUE(f->solve_node_major(bt, 1).is_ok());
      EXPECT_LT((bt - want_x).cwiseAbs().maxCoeff(), 1e-10 * want_x.cwiseAbs().maxCoeff())
          << "nb " << nb;
      Eigen::MatrixXd b1 = Eigen::MatrixXd::Random(n, 1);
      Eigen::MatrixXd want1 = b1;
      want1.topRows(m) = llt.solve(b1.topRows(m) - a12 * b1.bottomRows(nb));
      ASSERT_TRUE(f->solve(b1, 1).is_ok());
      EXPECT_LT((b1 - want1).cwiseAbs().maxCoeff(), 1e-10 * want1.cwiseAbs().maxCoeff())
          << "nb " << nb;
    }
    // The condition estimate is the leading block's (in the factor's order).
    Eigen::MatrixXd p11(m, m);
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < m; ++j) p11(i, j) = full(order[i], order[j]);
    }
    const Eigen::VectorXd d = Eigen::LLT<Eigen::MatrixXd>(p11).matrixL().toDenseMatrix().diagonal();
    const double r = (d.minCoeff() / d.maxCoeff()) * (d.minCoeff() / d.maxCoeff());
    EXPECT_NEAR(solver->rcond(), r, 1e-12 * r) << "nb " << nb;
    // Another count than the one kept is refused, not answered from the wrong block.
    EXPECT_FALSE(solver->trailing_schur_complement(nb + 1, 1).is_ok());
  }
}

// A matrix whose pattern is not the analyzed one is refused, not factorized.
TEST(Supernodal, AChangedPatternIsRefused) {
  std::mt19937_64 rng(26);
  const SparseMatrix a = grid_matrix(90, 70, 1e-3, rng);
  SparseMatrix pruned = a;
  pruned.coeffRef(1, 0) = 0.0;
  pruned.coeffRef(0, 1) = 0.0;
  pruned.prune(0.0);
  ASSERT_LT(pruned.nonZeros(), a.nonZeros());
  auto solver = solver::make_linear_solver(solver::Backend::kCholmod);
  ASSERT_TRUE(solver->analyze(a).is_ok());
  ASSERT_NE(solver->stats().method.find("supernodal"), std::string::npos);
  ASSERT_TRUE(solver->factorize(a).is_ok());
  const Status s = solver->factorize(pruned);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("pattern differs"), std::string::npos) << s.message();
}

// Through the crossbar solver: a tile large enough for a supernodal factor, in both modes,
// against KLU's LU with partial pivoting.
TEST(Supernodal, CrossbarCurrentsEqualKlu) {
  std::mt19937_64 rng(23);
  const netlists::Crossbar x = testing::random_crossbar(rng, 100, 90, 20.0, 2.5, 2.5, 20.0);
  const Eigen::MatrixXd v = testing::random_matrix(rng, 5, 100, -0.2, 0.2);
  solver::SystemOptions klu;
  klu.backend = solver::Backend::kKlu;
  auto ref = solver::solve_crossbar(x, v, klu, {});
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  for (solver::Mode mode : {solver::Mode::kDriven, solver::Mode::kTransfer}) {
    solver::SystemOptions so;
    so.mode = mode;
    auto sys = solver::CrossbarSystem::assemble(x, so);
    ASSERT_TRUE(sys.is_ok());
    ASSERT_TRUE(sys.value().analyze().is_ok());
    ASSERT_TRUE(sys.value().factorize().is_ok());
    EXPECT_NE(sys.value().stats().factor.method.find("supernodal"), std::string::npos);
    auto s = sys.value().solve(v);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_LT(testing::rel_diff(s.value().column_current, ref.value().solution.column_current),
              1e-12);
    EXPECT_LT(s.value().relative_residual, 1e-14);
    // One input vector goes through the supernodes in plain loops.
    auto one = sys.value().solve(v.topRows(1));
    ASSERT_TRUE(one.is_ok()) << one.status().to_string();
    EXPECT_LT(testing::rel_diff(one.value().column_current,
                                ref.value().solution.column_current.topRows(1)),
              1e-12);
  }
}

// The VmFlags line of the mapping of this process that holds address a ("" if none does).
std::string vm_flags_at(std::uintptr_t a) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      inside = a >= lo && a < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return "";
}

// core::advise_huge_pages (which the CHOLMOD backend applies to a factor's values as they are
// allocated) marks the 2 MiB-aligned pages inside a block, and nothing outside it: madvise refuses
// an unaligned start, so an advice of the block as it is would mark nothing.
TEST(Memory, HugePageAdviceMarksTheAlignedInteriorOfABlock) {
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t bytes = 8 * kHuge;
  void* raw = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(raw, MAP_FAILED);
  struct Unmap {
    void* p;
    std::size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{raw, bytes};
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t first = (begin + 100 + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes - 100) & ~(kHuge - 1);
  ASSERT_GT(last, first);
  // Where the kernel has no huge pages, refuses the advice or reports no flags, there is
  // nothing to see.
  if (vm_flags_at(begin).empty()) GTEST_SKIP() << "no VmFlags in /proc/self/smaps";
  {
    void* probe =
        ::mmap(nullptr, 2 * kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(probe, MAP_FAILED);
    const std::uintptr_t at = (reinterpret_cast<std::uintptr_t>(probe) + kHuge - 1) & ~(kHuge - 1);
    const bool advised = ::madvise(reinterpret_cast<void*>(at), kHuge / 2, MADV_HUGEPAGE) == 0;
    ::munmap(probe, 2 * kHuge);
    if (!advised) GTEST_SKIP() << "madvise(MADV_HUGEPAGE) is refused here";
  }
  // A block that starts 100 bytes past the mapping's start and ends 100 bytes before its end.
  core::advise_huge_pages(reinterpret_cast<char*>(raw) + 100, bytes - 200);
  EXPECT_NE(vm_flags_at(first).find(" hg "), std::string::npos) << vm_flags_at(first);
  EXPECT_NE(vm_flags_at(last - 1).find(" hg "), std::string::npos) << vm_flags_at(last - 1);
  EXPECT_EQ(vm_flags_at(begin).find(" hg "), std::string::npos) << vm_flags_at(begin);
  EXPECT_EQ(vm_flags_at(begin + bytes - 1).find(" hg "), std::string::npos);
  // Nothing to advise: no aligned page inside, or no block.
  core::advise_huge_pages(reinterpret_cast<char*>(raw) + 100, kHuge);
  core::advise_huge_pages(nullptr, bytes);
}

}  // namespace
}  // namespace xbarnet
