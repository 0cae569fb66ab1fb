#include <cholmod.h>
#include <fmt/format.h>
#include <klu.h>
#include <omp.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <array>
#include <cmath>
#include <new>
#include <type_traits>
#include <vector>

#include "core/enum.hpp"
#include "core/memory.hpp"
#include "solver/linear_solver.hpp"
#include "solver/supernodal.hpp"

namespace xbarnet::solver {

static_assert(std::is_same_v<SuiteSparse_long, std::int64_t>,
              "SparseMatrix indices must match SuiteSparse_long");

std::string_view to_string(Backend backend) {
  switch (backend) {
    case Backend::kCholmod:
      return "cholmod";
    case Backend::kKlu:
      return "klu";
    case Backend::kDense:
      return "dense";
  }
  return "unknown";
}

std::span<const Backend> all_backends() {
  static constexpr std::array<Backend, 3> kAll{Backend::kCholmod, Backend::kKlu, Backend::kDense};
  return kAll;
}

StatusOr<Backend> parse_backend(std::string_view name) {
  return core::parse_enum("backend", name,
                          std::array{Backend::kCholmod, Backend::kKlu, Backend::kDense});
}

namespace {

// The block solve calls dtrsm_ and dgemm_ as Eigen's src/misc/blas.h declares them (included by
// Eigen/Core under EIGEN_USE_BLAS, which CMakeLists.txt sets for every target).
#ifndef EIGEN_USE_BLAS
#error "solver/backends.cpp needs EIGEN_USE_BLAS (the BLAS declarations of Eigen/src/misc/blas.h)"
#endif

// A BLAS dimension, which must fit an int (the callers bound their blocks).
int blas_int(std::int64_t v) { return static_cast<int>(v); }

// ------------------------------------------------------------------------------------ CHOLMOD

// Debian's CHOLMOD runs parts of its supernodal factorization and solve in OpenMP regions of a
// fixed CHOLMOD_OMP_NUM_THREADS = 4 threads, whatever the machine has. On the small supernodes of
// a crossbar grid the threads spend their time waking and waiting: on the 2-core machine a
// 256 x 256 factorization took 0.26 s with them and 0.11 s without (docs/performance.md).
// While one of these guards lives, OpenMP regions started by this thread run on that thread
// alone (max-active-levels is an ICV of the calling thread, so other threads are not affected);
// xbarnet parallelises over tiles and input vectors itself.
// The first `cols` columns of the trailing Schur complement L_BB L_BB^T from the boundary block
// of L (`lbb`, nb rows; its first `cols` columns are read, and its first `cols` rows there are
// L_11, lower triangular): a triangular product, half the multiply-adds of a dense one (and no
// BLAS call for no columns: OpenBLAS's dtrmm refuses a leading dimension of 0).
Eigen::MatrixXd schur_columns(const Eigen::MatrixXd& lbb, std::int64_t cols) {
  const auto c = static_cast<Eigen::Index>(cols);
  if (c == 0) return Eigen::MatrixXd::Zero(lbb.rows(), 0);
  return lbb.leftCols(c) * lbb.topLeftCorner(c, c).triangularView<Eigen::Lower>().transpose();
}

class SerialOpenMp {
 public:
  SerialOpenMp() : saved_(omp_get_max_active_levels()) { omp_set_max_active_levels(0); }
  ~SerialOpenMp() { omp_set_max_active_levels(saved_); }
  SerialOpenMp(const SerialOpenMp&) = delete;
  SerialOpenMp& operator=(const SerialOpenMp&) = delete;

 private:
  int saved_;
};

class CholmodSolver final : public LinearSolver {
 public:
  // Supernodal amalgamation (cholmod_common.nrelax: columns up to which supernodes merge
  // whatever, or with up to zrelax of their entries zero). CHOLMOD's default is (4, 16, 48);
  // for the grid's nested dissection (the given order), (2, 8, 24) factorizes faster at
  // every size measured: 64 x 64 to 1024 x 1024 tiles 27, 25, 12-15, 10 and 7 % in transfer mode,
  // 256 x 256 17 % driven; one right-hand side 8 % faster through the smaller factor, blocks of
  // 32 to 256 inputs the same within the noise (docs/performance.md).
  static constexpr std::array<size_t, 3> kCholmodRelax{4, 16, 48};
  static constexpr std::array<size_t, 3> kGridRelax{2, 8, 24};

  CholmodSolver() {
    cholmod_l_start(&common_);
    common_.print = 0;  // the library never prints; failures come back as a Status
    common_.error_handler = nullptr;
    common_.final_ll = 1;  // simplicial factors as L L^T too (trailing_schur_complement)
  }
  ~CholmodSolver() override {
    if (factor_ != nullptr) cholmod_l_free_factor(&factor_, &common_);
    cholmod_l_finish(&common_);
  }
  CholmodSolver(const CholmodSolver&) = delete;
  CholmodSolver& operator=(const CholmodSolver&) = delete;

  Backend backend() const override { return Backend::kCholmod; }

  std::unique_ptr<LinearSolver> clone() const override {
    auto copy = std::make_unique<CholmodSolver>();
    if (factor_ != nullptr) {
      copy->factor_ = cholmod_l_copy_factor(factor_, &copy->common_);
      if (copy->factor_ == nullptr) throw std::bad_alloc();
    }
    copy->native_ = native_;
    copy->schur_nb_ = schur_nb_;
    copy->kept_ = kept_;
    copy->rcond_ = rcond_;  // (of the same factor, copied)
    copy->stats_ = stats_;
    copy->failed_ = failed_;
    return copy;
  }

  Status analyze(const SparseMatrix& a, std::span<const std::int64_t> ordering) override {
    ++analyses_;
    if (factor_ != nullptr) cholmod_l_free_factor(&factor_, &common_);
    native_ = SupernodalCholesky{};
    rcond_ = -1.0;
    // The analysis reads the pattern alone: without values its transposes move half the data.
    cholmod_sparse view = make_view(a);
    view.x = nullptr;
    view.xtype = CHOLMOD_PATTERN;
    const SerialOpenMp serial;
    if (ordering.empty()) {
      common_.nmethods = 0;  // CHOLMOD's default: AMD, and METIS too if AMD's fill is high
      common_.postorder = 1;
      std::copy(kCholmodRelax.begin(), kCholmodRelax.end(), common_.nrelax);
      factor_ = cholmod_l_analyze(&view, &common_);
    } else {
      // The given order is kept exactly (no postordering), so that its last unknowns are the
      // last columns of the factor (trailing_schur_complement).
      std::copy(kGridRelax.begin(), kGridRelax.end(), common_.nrelax);
      common_.nmethods = 1;
      common_.method[0].ordering = CHOLMOD_GIVEN;
      common_.postorder = 0;
      factor_ = cholmod_l_analyze_p(&view, const_cast<std::int64_t*>(ordering.data()), nullptr, 0,
                                    &common_);
    }
    if (factor_ == nullptr || common_.status < CHOLMOD_OK) {
      return {
          StatusCode::kBackendFailure,
          fmt::format("CHOLMOD analyze failed (status {}) for n = {}", common_.status, a.rows())};
    }
    stats_.n = a.rows();
    stats_.nnz_matrix = a.nonZeros();
    stats_.nnz_factor = static_cast<std::int64_t>(common_.lnz);
    stats_.flops = common_.fl;
    const int chosen = common_.method[common_.selected].ordering;
    stats_.method = fmt::format("{}, {} ordering", factor_->is_super ? "supernodal" : "simplicial",
                                ordering_name(chosen));
    // Where A's entries land in L, once per pattern (clones copy it).
    if (factor_->is_super) {
      native_.prepare(supernodal_layout(), a, static_cast<const SuiteSparse_long*>(factor_->Perm));
    }
    return Status::ok();
  }

  void keep_schur_complement(std::int64_t nb) override {
    schur_nb_ = std::max<std::int64_t>(nb, 0);
  }
  bool schur_complement_kept() const override { return kept_ && numeric(); }

  Status factorize(const SparseMatrix& a) override {
    failed_ = -1;
    rcond_ = -1.0;
    kept_ = false;
    // Until this factorization succeeds the factor's values are not a factor (numeric() false):
    // a failure before it starts must not leave the previous values, or a kept Schur complement,
    // looking like one.
    if (factor_ != nullptr && factor_->xtype != CHOLMOD_PATTERN) factor_->minor = 0;
    if (factor_ == nullptr)
      return {StatusCode::kBackendFailure, "CHOLMOD: factorize before analyze"};
    if (factor_->is_super) return factorize_supernodal(a);
    cholmod_sparse view = make_view(a);
    const SerialOpenMp serial;
    const int ok = cholmod_l_factorize(&view, factor_, &common_);
    if (common_.status == CHOLMOD_NOT_POSDEF) {
      // factor_->minor is the column (in the original numbering after the permutation is undone
      // by the caller's view) where the factorization broke down; map it through the ordering.
      const auto minor = static_cast<std::int64_t>(factor_->minor);
      const auto* perm = static_cast<const SuiteSparse_long*>(factor_->Perm);
      failed_ =
          (perm != nullptr && minor < static_cast<std::int64_t>(factor_->n)) ? perm[minor] : minor;
      return {
          StatusCode::kNotPositiveDefinite,
          fmt::format("CHOLMOD: matrix not positive definite at pivot {} of {}", minor, a.rows())};
    }
    if (!ok || common_.status < CHOLMOD_OK) {
      return {StatusCode::kBackendFailure,
              fmt::format("CHOLMOD factorize failed (status {})", common_.status)};
    }
    return Status::ok();
  }

  // A supernodal analysis is factorized by SupernodalCholesky into CHOLMOD's factor object (the
  // same algorithm and layout as cholmod_factorize, without its OpenMP regions; see
  // solver/supernodal.hpp), so that CHOLMOD's solves and copies read the result (its condition
  // estimate is recorded while factorizing, equal to cholmod_rcond's).
  Status factorize_supernodal(const SparseMatrix& a) {
    if (factor_->xtype == CHOLMOD_PATTERN) {
      if (!cholmod_l_change_factor(CHOLMOD_REAL, 1, 1, 1, 1, factor_, &common_)) {
        return {StatusCode::kBackendFailure,
                fmt::format("CHOLMOD: could not allocate the factor (status {})", common_.status)};
      }
      // Before the factorization first writes it (fresh memory then takes huge pages).
      core::advise_huge_pages(factor_->x, factor_->xsize * sizeof(double));
    }
    const SupernodalLayout layout = supernodal_layout();
    const auto* perm = static_cast<const SuiteSparse_long*>(factor_->Perm);
    if (!native_.prepared()) native_.prepare(layout, a, perm);  // (analyze() prepared it)
    if (!native_.matches(a)) {
      return {
          StatusCode::kFailedPrecondition,
          fmt::format("CHOLMOD: factorize of a matrix ({} non-zeros) whose pattern differs from "
                      "the one analyzed",
                      a.nonZeros())};
    }
    // The boundary kept as its Schur complement: it must be the trailing block in the order
    // it was given (the analysis keeps the given order: no postordering).
    const std::int64_t stop =
        schur_nb_ > 0 && schur_nb_ <= layout.n ? layout.n - schur_nb_ : layout.n;
    for (std::int64_t k = stop; k < layout.n; ++k) {
      if (perm != nullptr && perm[k] != k) {
        return {StatusCode::kFailedPrecondition,
                "CHOLMOD: the unknowns to keep as a Schur complement are not last in the "
                "factor's order"};
      }
    }
    const std::int64_t minor =
        native_.factorize(layout, a.valuePtr(), static_cast<double*>(factor_->x), stop);
    factor_->is_ll = 1;
    if (minor >= 0) {
      factor_->minor = static_cast<size_t>(minor);
      failed_ = perm != nullptr ? perm[minor] : minor;
      return {
          StatusCode::kNotPositiveDefinite,
          fmt::format("Cholesky: matrix not positive definite at pivot {} of {}", minor, a.rows())};
    }
    factor_->minor = factor_->n;
    rcond_ = native_.rcond();  // (what cholmod_rcond would compute, recorded while factorizing)
    kept_ = stop < layout.n;
    return Status::ok();
  }

  SupernodalLayout supernodal_layout() const {
    SupernodalLayout l;
    l.n = static_cast<std::int64_t>(factor_->n);
    l.nsuper = static_cast<std::int64_t>(factor_->nsuper);
    l.super = static_cast<const std::int64_t*>(factor_->super);
    l.pi = static_cast<const std::int64_t*>(factor_->pi);
    l.px = static_cast<const std::int64_t*>(factor_->px);
    l.s_rows = static_cast<const std::int64_t*>(factor_->s);
    l.xsize = static_cast<std::int64_t>(factor_->xsize);
    return l;
  }

  // A factor with numeric values: analyze() leaves a symbolic one (and clone() copies that).
  bool numeric() const {
    return factor_ != nullptr && factor_->xtype != CHOLMOD_PATTERN && factor_->minor >= factor_->n;
  }

  Status solve(Eigen::MatrixXd& b, int threads) override {
    if (!numeric()) return {StatusCode::kBackendFailure, "CHOLMOD: solve before factorize"};
    // (A kept Schur complement is not a factor: cholmod_solve must not read it.)
    if (supernodal_ll() && (b.cols() > 1 || kept_)) {
      Eigen::MatrixXd bt = b.transpose();
      if (Status s = solve_node_major(bt, threads); !s.is_ok()) return s;
      b = bt.transpose();
      return Status::ok();
    }
    cholmod_dense view{};
    view.nrow = static_cast<size_t>(b.rows());
    view.ncol = static_cast<size_t>(b.cols());
    view.nzmax = view.nrow * view.ncol;
    view.d = view.nrow;
    view.x = b.data();
    view.xtype = CHOLMOD_REAL;
    view.dtype = CHOLMOD_DOUBLE;
    const SerialOpenMp serial;
    cholmod_dense* x = cholmod_l_solve(CHOLMOD_A, factor_, &view, &common_);
    if (x == nullptr || common_.status < CHOLMOD_OK) {
      if (x != nullptr) cholmod_l_free_dense(&x, &common_);
      return {StatusCode::kBackendFailure,
              fmt::format("CHOLMOD solve failed (status {})", common_.status)};
    }
    std::copy_n(static_cast<const double*>(x->x), b.size(), b.data());
    cholmod_l_free_dense(&x, &common_);
    return Status::ok();
  }

  // Blocks of right-hand sides go through the supernodal factor in node-major layout (the K
  // values of one unknown contiguous), so that every supernode gathers and scatters whole
  // K-vectors and its dense work is one dtrsm and one dgemm over the block. cholmod_solve keeps
  // the block column-major (n x K), where the K values of an unknown lie n apart, a cache line
  // each: at 256 x 256 with 256 inputs it ran at 1.0 GFlop/s (docs/performance.md). Slabs of
  // kSlabRows inputs are solved independently, in parallel.
  Status solve_node_major(Eigen::MatrixXd& bt, int threads) override {
    if (!numeric()) return {StatusCode::kBackendFailure, "CHOLMOD: solve before factorize"};
    if (!supernodal_ll()) return LinearSolver::solve_node_major(bt, threads);
    const auto n = static_cast<std::int64_t>(factor_->n);
    const auto* perm = static_cast<const SuiteSparse_long*>(factor_->Perm);
    const Eigen::Index k_all = bt.rows();
    const Eigen::Index slabs = (k_all + kSlabRows - 1) / kSlabRows;
    const int team = static_cast<int>(std::clamp<Eigen::Index>(threads, 1, slabs));
    // Work space per thread, allocated here so that nothing inside the parallel loop throws.
    const Eigen::Index rows = std::min(kSlabRows, k_all);
    std::vector<Eigen::MatrixXd> slab(static_cast<size_t>(team), Eigen::MatrixXd(rows, n));
    const std::int64_t stop = kept_ ? n - schur_nb_ : n;
    std::vector<std::vector<double>> work(
        static_cast<size_t>(team),
        std::vector<double>(static_cast<size_t>(rows * rows_below(stop))));
#pragma omp parallel for num_threads(team) schedule(dynamic)
    for (Eigen::Index q = 0; q < slabs; ++q) {
      const auto me = static_cast<size_t>(omp_get_thread_num());
      const Eigen::Index k0 = q * kSlabRows;
      const Eigen::Index kc = std::min(kSlabRows, k_all - k0);
      Eigen::Map<Eigen::MatrixXd> xs(slab[me].data(), kc, n);
      if (kc == 1) {  // (plain loops: per-unknown block copies cost more than the solve)
        double* x = slab[me].data();
        for (std::int64_t p = 0; p < n; ++p) x[p] = bt(k0, perm != nullptr ? perm[p] : p);
        supernodal_solve(xs, work[me], stop);
        for (std::int64_t p = 0; p < n; ++p) bt(k0, perm != nullptr ? perm[p] : p) = x[p];
        continue;
      }
      for (std::int64_t p = 0; p < n; ++p) {
        xs.col(p) = bt.block(k0, perm != nullptr ? perm[p] : p, kc, 1);
      }
      supernodal_solve(xs, work[me], stop);
      for (std::int64_t p = 0; p < n; ++p) {
        bt.block(k0, perm != nullptr ? perm[p] : p, kc, 1) = xs.col(p);
      }
    }
    return Status::ok();
  }

  static constexpr Eigen::Index kSlabRows = 32;

  bool supernodal_ll() const { return factor_->is_super && factor_->is_ll; }

  // The most rows any supernode has below its solved columns (those before `stop`).
  std::int64_t rows_below(std::int64_t stop) const {
    const auto* super = static_cast<const SuiteSparse_long*>(factor_->super);
    const auto* pi = static_cast<const SuiteSparse_long*>(factor_->pi);
    std::int64_t most = 0;
    for (size_t sn = 0; sn < factor_->nsuper; ++sn) {
      const std::int64_t ncol = solved_columns(super[sn], super[sn + 1], stop);
      if (ncol > 0) most = std::max<std::int64_t>(most, (pi[sn + 1] - pi[sn]) - ncol);
    }
    return most;
  }

  // The columns of supernode k1 .. k2-1 a solve works on: those before `stop` (the unknowns
  // from `stop` on are given when a Schur complement is kept).
  static std::int64_t solved_columns(std::int64_t k1, std::int64_t k2, std::int64_t stop) {
    return std::clamp<std::int64_t>(stop - k1, 0, k2 - k1);
  }

  // L L^T x = b for a node-major block xt (K x n, column p = unknown p in the factor's order);
  // `e` holds K x rows_below(stop) values. With stop < n (a kept Schur complement) the unknowns
  // from `stop` on are given: their values in xt stay, and the leading ones solve
  // L_11 L_11^T x_1 = b_1 - L_11 L_21^T x_2 (= b_1 - A_12 x_2): the forward sweep leaves the
  // given unknowns alone, the backward one reads them.
  void supernodal_solve(Eigen::Map<Eigen::MatrixXd>& xt, std::vector<double>& e,
                        std::int64_t stop) const {
    const SupernodalLayout l = supernodal_layout();
    const std::int64_t *super = l.super, *pi = l.pi, *px = l.px, *ls = l.s_rows;
    const auto* lx = static_cast<const double*>(factor_->x);
    const std::int64_t nsuper = l.nsuper;
    const int k = blas_int(xt.rows());
    const double one = 1.0, zero = 0.0, minus_one = -1.0;
    if (k == 1) return supernodal_solve_one(xt.data(), e.data(), stop);
    // Forward: x1 = L11^-1 b1, b2 -= L21 x1; row form x1^T = b1^T L11^-T, E = x1^T L21^T.
    for (std::int64_t sn = 0; sn < nsuper; ++sn) {
      const std::int64_t k1 = super[sn], ncol = solved_columns(k1, super[sn + 1], stop);
      if (ncol == 0) break;  // (supernodes are in column order: the rest are given)
      const std::int64_t nrow = pi[sn + 1] - pi[sn], nrow2 = nrow - ncol;
      const int nc = blas_int(ncol), nr = blas_int(nrow), nr2 = blas_int(nrow2);
      double* x1 = xt.data() + k1 * xt.rows();
      const double* l11 = lx + px[sn];
      dtrsm_("R", "L", "T", "N", &k, &nc, &one, l11, &nr, x1, &k);
      if (nrow2 == 0) continue;
      dgemm_("N", "T", &k, &nr2, &nc, &one, x1, &k, l11 + ncol, &nr, &zero, e.data(), &k);
      const std::int64_t* rows2 = ls + pi[sn] + ncol;
      for (std::int64_t r = 0; r < nrow2; ++r) {
        if (rows2[r] >= stop) break;  // (rows are sorted: the rest are given unknowns)
        xt.col(rows2[r]) -= Eigen::Map<const Eigen::VectorXd>(e.data() + r * k, k);
      }
    }
    // Backward: x1 = L11^-T (y1 - L21^T x2); row form x1^T = (y1^T - x2^T L21) L11^-1.
    for (std::int64_t sn = nsuper - 1; sn >= 0; --sn) {
      const std::int64_t k1 = super[sn], ncol = solved_columns(k1, super[sn + 1], stop);
      if (ncol == 0) continue;
      const std::int64_t nrow = pi[sn + 1] - pi[sn], nrow2 = nrow - ncol;
      const int nc = blas_int(ncol), nr = blas_int(nrow), nr2 = blas_int(nrow2);
      double* x1 = xt.data() + k1 * xt.rows();
      const double* l11 = lx + px[sn];
      if (nrow2 > 0) {
        const std::int64_t* rows2 = ls + pi[sn] + ncol;
        for (std::int64_t r = 0; r < nrow2; ++r) {
          Eigen::Map<Eigen::VectorXd>(e.data() + r * k, k) = xt.col(rows2[r]);
        }
        dgemm_("N", "N", &k, &nc, &nr2, &minus_one, e.data(), &k, l11 + ncol, &nr, &one, x1, &k);
      }
      dtrsm_("R", "L", "N", "N", &k, &nc, &one, l11, &nr, x1, &k);
    }
  }

  // The same for one right-hand side x (n values), in plain loops: no BLAS call per supernode
  // (dtrsm packs the supernode's triangle: with it an operating point of a 256 x 256 tile took
  // 24-29 ms). The rows below a supernode's solved columns are gathered from x into a dense
  // vector once (`below`: rows_below(stop) values of the caller's workspace, so that nothing here
  // allocates), updated by contiguous column sweeps, and scattered back once (a scatter per
  // column and row took twice as long, docs/performance.md). Each column of L is read once in
  // each sweep; the forward sweep skips supernodes where x is still zero (in transfer mode only
  // the boundary, numbered last, is driven, and with a kept Schur complement it is given).
  void supernodal_solve_one(double* x, double* below, std::int64_t stop) const {
    const SupernodalLayout l = supernodal_layout();
    const std::int64_t *super = l.super, *pi = l.pi, *px = l.px, *ls = l.s_rows;
    const auto* lx = static_cast<const double*>(factor_->x);
    const std::int64_t nsuper = l.nsuper;
    for (std::int64_t sn = 0; sn < nsuper; ++sn) {
      const std::int64_t k1 = super[sn], ncol = solved_columns(k1, super[sn + 1], stop);
      if (ncol == 0) break;  // (supernodes are in column order: the rest are given)
      const std::int64_t nrow = pi[sn + 1] - pi[sn], nbelow = nrow - ncol;
      const std::int64_t* rows = ls + pi[sn] + ncol;
      double* x1 = x + k1;
      // Nothing to do while x is zero here (the interior, when only the boundary is driven).
      if (std::all_of(x1, x1 + ncol, [](double v) { return v == 0.0; })) continue;
      const double* block = lx + px[sn];
      double* e = below;
      std::fill(e, e + nbelow, 0.0);
      for (std::int64_t j = 0; j < ncol; ++j) {
        const double* col = block + j * nrow;
        const double xj = x1[j] / col[j];
        x1[j] = xj;
        for (std::int64_t i = j + 1; i < ncol; ++i) x1[i] -= col[i] * xj;
        const double* low = col + ncol;
        for (std::int64_t r = 0; r < nbelow; ++r) e[r] += low[r] * xj;
      }
      for (std::int64_t r = 0; r < nbelow && rows[r] < stop; ++r) x[rows[r]] -= e[r];
    }
    for (std::int64_t sn = nsuper - 1; sn >= 0; --sn) {
      const std::int64_t k1 = super[sn], ncol = solved_columns(k1, super[sn + 1], stop);
      if (ncol == 0) continue;
      const std::int64_t nrow = pi[sn + 1] - pi[sn], nbelow = nrow - ncol;
      const std::int64_t* rows = ls + pi[sn] + ncol;
      const double* block = lx + px[sn];
      double* g = below;
      for (std::int64_t r = 0; r < nbelow; ++r) g[r] = x[rows[r]];
      double* x1 = x + k1;
      for (std::int64_t j = ncol - 1; j >= 0; --j) {
        const double* col = block + j * nrow;
        const double* low = col + ncol;
        // Four partial sums, so that the additions do not wait on each other.
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        std::int64_t r = 0;
        for (; r + 3 < nbelow; r += 4) {
          s0 += low[r] * g[r];
          s1 += low[r + 1] * g[r + 1];
          s2 += low[r + 2] * g[r + 2];
          s3 += low[r + 3] * g[r + 3];
        }
        for (; r < nbelow; ++r) s0 += low[r] * g[r];
        for (std::int64_t i = j + 1; i < ncol; ++i) s1 += col[i] * x1[i];
        x1[j] = (x1[j] - ((s0 + s1) + (s2 + s3))) / col[j];
      }
    }
  }

  StatusOr<Eigen::MatrixXd> trailing_schur_complement(std::int64_t nb, std::int64_t cols) override {
    if (factor_ == nullptr || factor_->minor < factor_->n) {
      return Status{StatusCode::kBackendFailure, "CHOLMOD: no complete factorization"};
    }
    const auto n = static_cast<std::int64_t>(factor_->n);
    if (nb < 0 || nb > n || cols < 0 || cols > nb) {
      return Status{StatusCode::kFailedPrecondition,
                    fmt::format("CHOLMOD: trailing_schur_complement({}, {}) of a {}-unknown factor",
                                nb, cols, n)};
    }
    const std::int64_t first = n - nb;
    const auto* perm = static_cast<const SuiteSparse_long*>(factor_->Perm);
    for (std::int64_t k = first; k < n; ++k) {
      if (perm != nullptr && perm[k] != k) {
        return Status{StatusCode::kBackendFailure,
                      "CHOLMOD: the boundary unknowns are not last in the factor's order"};
      }
    }
    const std::int64_t last = first + cols;
    if (kept_) {
      // The factor holds S itself (lower triangle) in its trailing columns: read, not multiplied.
      if (nb != schur_nb_) {
        return Status{StatusCode::kFailedPrecondition,
                      fmt::format("CHOLMOD: the factor keeps the Schur complement onto the last "
                                  "{} unknowns, not {}",
                                  schur_nb_, nb)};
      }
      Eigen::MatrixXd s = Eigen::MatrixXd::Zero(nb, cols);
      const SupernodalLayout l = supernodal_layout();
      const auto* lx = static_cast<const double*>(factor_->x);
      for (std::int64_t sn = 0; sn < l.nsuper; ++sn) {
        const std::int64_t k1 = l.super[sn], k2 = l.super[sn + 1];
        if (k2 <= first || k1 >= last) continue;
        const std::int64_t nrow = l.pi[sn + 1] - l.pi[sn];
        for (std::int64_t k = std::max(k1, first); k < std::min(k2, last); ++k) {
          const double* col = lx + l.px[sn] + (k - k1) * nrow;
          for (std::int64_t r = k - k1; r < nrow; ++r) {  // (from the diagonal down)
            const std::int64_t row = l.s_rows[l.pi[sn] + r];
            s(row - first, k - first) = col[r];
            if (row < last) s(k - first, row - first) = col[r];
          }
        }
      }
      return s;
    }
    // L_B1 is [L_11 0]: only the first `cols` columns of L_BB enter.
    Eigen::MatrixXd lbb = Eigen::MatrixXd::Zero(nb, cols);
    const auto* lx = static_cast<const double*>(factor_->x);
    if (factor_->is_super) {
      const SupernodalLayout l = supernodal_layout();
      const std::int64_t *super = l.super, *pi = l.pi, *px = l.px, *ls = l.s_rows;
      for (std::int64_t sn = 0; sn < l.nsuper; ++sn) {
        const std::int64_t k1 = super[sn];
        const std::int64_t k2 = super[sn + 1];
        if (k2 <= first || k1 >= last) continue;
        const std::int64_t nrow = pi[sn + 1] - pi[sn];
        for (std::int64_t k = std::max(k1, first); k < std::min(k2, last); ++k) {
          const double* col = lx + px[sn] + (k - k1) * nrow;
          for (std::int64_t r = 0; r < nrow; ++r) {
            const std::int64_t row = ls[pi[sn] + r];
            if (row >= first) lbb(row - first, k - first) = col[r];
          }
        }
      }
    } else {
      if (!factor_->is_ll) {
        return Status{StatusCode::kBackendFailure, "CHOLMOD: simplicial factor is not LL'"};
      }
      const auto* lp = static_cast<const SuiteSparse_long*>(factor_->p);
      const auto* li = static_cast<const SuiteSparse_long*>(factor_->i);
      const auto* lnz = static_cast<const SuiteSparse_long*>(factor_->nz);
      for (std::int64_t k = first; k < last; ++k) {
        for (std::int64_t q = lp[k]; q < lp[k] + lnz[k]; ++q) {
          if (li[q] >= first) lbb(li[q] - first, k - first) = lx[q];
        }
      }
    }
    return schur_columns(lbb, cols);
  }

  FactorStats stats() const override { return stats_; }
  std::int64_t failed_index() const override { return failed_; }
  // Computed once per factorization (every solve reports it).
  double rcond() override {
    if (rcond_ < 0.0) rcond_ = factor_ != nullptr ? cholmod_l_rcond(factor_, &common_) : 0.0;
    return rcond_;
  }

 private:
  static cholmod_sparse make_view(const SparseMatrix& a) {
    cholmod_sparse v{};
    v.nrow = static_cast<size_t>(a.rows());
    v.ncol = static_cast<size_t>(a.cols());
    v.nzmax = static_cast<size_t>(a.nonZeros());
    v.p = const_cast<std::int64_t*>(a.outerIndexPtr());
    v.i = const_cast<std::int64_t*>(a.innerIndexPtr());
    v.x = const_cast<double*>(a.valuePtr());
    v.stype = -1;  // symmetric, lower triangle used; the upper one is ignored
    v.itype = CHOLMOD_LONG;
    v.xtype = CHOLMOD_REAL;
    v.dtype = CHOLMOD_DOUBLE;
    v.sorted = 1;
    v.packed = 1;
    return v;
  }
  static const char* ordering_name(int ordering) {
    switch (ordering) {
      case CHOLMOD_NATURAL:
        return "natural";
      case CHOLMOD_GIVEN:
        return "given (nested dissection)";
      case CHOLMOD_AMD:
        return "AMD";
      case CHOLMOD_METIS:
        return "METIS";
      case CHOLMOD_NESDIS:
        return "NESDIS";
      case CHOLMOD_COLAMD:
        return "COLAMD";
      case CHOLMOD_POSTORDERED:
        return "postordered";
      default:
        return "unknown";
    }
  }

  cholmod_common common_{};
  cholmod_factor* factor_ = nullptr;
  SupernodalCholesky native_;  // its pattern map is prepared by analyze(), shared by clones
  std::int64_t schur_nb_ = 0;  // trailing unknowns to keep as their Schur complement (0: none)
  bool kept_ = false;          // the current factor holds that Schur complement
  double rcond_ = -1.0;        // of the current factor: recorded by the own factorization, else
                               // computed once asked (-1: not yet)
  FactorStats stats_;
  std::int64_t failed_ = -1;
};

// ---------------------------------------------------------------------------------------- KLU
class KluSolver final : public LinearSolver {
 public:
  KluSolver() { klu_l_defaults(&common_); }
  ~KluSolver() override { release(); }
  KluSolver(const KluSolver&) = delete;
  KluSolver& operator=(const KluSolver&) = delete;

  Backend backend() const override { return Backend::kKlu; }

  // The symbolic object is copied field by field into KLU's own allocations (klu_l_free_symbolic
  // frees P, Q, R and Lnz with their sizes); the numeric factor is not copied: the copy
  // factorizes afresh.
  std::unique_ptr<LinearSolver> clone() const override {
    auto copy = std::make_unique<KluSolver>();
    if (symbolic_ != nullptr) {
      klu_l_common& c = copy->common_;
      const auto n = static_cast<size_t>(symbolic_->n);
      auto* s = static_cast<klu_l_symbolic*>(klu_l_malloc(1, sizeof(klu_l_symbolic), &c));
      if (s == nullptr) throw std::bad_alloc();
      *s = *symbolic_;
      s->P = static_cast<SuiteSparse_long*>(klu_l_malloc(n, sizeof(SuiteSparse_long), &c));
      s->Q = static_cast<SuiteSparse_long*>(klu_l_malloc(n, sizeof(SuiteSparse_long), &c));
      s->R = static_cast<SuiteSparse_long*>(klu_l_malloc(n + 1, sizeof(SuiteSparse_long), &c));
      s->Lnz = static_cast<double*>(klu_l_malloc(n, sizeof(double), &c));
      copy->symbolic_ = s;  // freed by the copy's destructor, even when incomplete
      if (s->P == nullptr || s->Q == nullptr || s->R == nullptr || s->Lnz == nullptr) {
        throw std::bad_alloc();
      }
      std::copy_n(symbolic_->P, n, s->P);
      std::copy_n(symbolic_->Q, n, s->Q);
      std::copy_n(symbolic_->R, n + 1, s->R);
      std::copy_n(symbolic_->Lnz, n, s->Lnz);
    }
    copy->given_ = given_;
    copy->stats_ = stats_;
    return copy;
  }

  Status analyze(const SparseMatrix& a, std::span<const std::int64_t> ordering) override {
    ++analyses_;
    release();
    auto* ap = const_cast<std::int64_t*>(a.outerIndexPtr());
    auto* ai = const_cast<std::int64_t*>(a.innerIndexPtr());
    if (ordering.empty()) {
      symbolic_ = klu_l_analyze(a.rows(), ap, ai, &common_);
    } else {
      auto* p = const_cast<std::int64_t*>(ordering.data());
      symbolic_ = klu_l_analyze_given(a.rows(), ap, ai, p, p, &common_);
    }
    if (symbolic_ == nullptr) {
      return {StatusCode::kBackendFailure,
              fmt::format("KLU analyze failed (status {}) for n = {}", common_.status, a.rows())};
    }
    stats_ = {};
    stats_.n = a.rows();
    stats_.nnz_matrix = a.nonZeros();
    given_ = !ordering.empty();
    stats_.method = fmt::format("LU, BTF + {} ordering", given_ ? "given" : "AMD");
    return Status::ok();
  }

  Status factorize(const SparseMatrix& a) override {
    failed_ = -1;
    if (symbolic_ == nullptr) return {StatusCode::kBackendFailure, "KLU: factorize before analyze"};
    auto* ap = const_cast<std::int64_t*>(a.outerIndexPtr());
    auto* ai = const_cast<std::int64_t*>(a.innerIndexPtr());
    auto* ax = const_cast<double*>(a.valuePtr());
    refactored_ = false;
    if (numeric_ != nullptr) {
      // Same pattern, new values: reuse the pivot order. A pivot that has become zero under
      // that order (refactor fails or reports a singular matrix), or much smaller than the
      // fresh factorization's (the pivot-size ratio rcond = min|u_kk| / max|u_kk| fell by more
      // than kRcondDrop), is no reason to fail or to lose accuracy: factorize again from
      // scratch, with fresh partial pivoting.
      if (klu_l_refactor(ap, ai, ax, symbolic_, numeric_, &common_) && common_.status == KLU_OK &&
          klu_l_rcond(symbolic_, numeric_, &common_) &&
          common_.rcond >= kRcondDrop * fresh_rcond_) {
        refactored_ = true;
      } else {
        klu_l_free_numeric(&numeric_, &common_);
      }
    }
    if (numeric_ == nullptr) {
      numeric_ = klu_l_factor(ap, ai, ax, symbolic_, &common_);
      if (numeric_ != nullptr && common_.status == KLU_OK &&
          klu_l_rcond(symbolic_, numeric_, &common_)) {
        fresh_rcond_ = common_.rcond;
      }
    }
    if (common_.status == KLU_SINGULAR) {
      failed_ = static_cast<std::int64_t>(common_.singular_col);
      return {StatusCode::kSingular,
              fmt::format("KLU: matrix singular at column {} of {}", failed_, a.rows())};
    }
    if (numeric_ == nullptr || common_.status < KLU_OK) {
      return {StatusCode::kBackendFailure,
              fmt::format("KLU factorize failed (status {})", common_.status)};
    }
    stats_.nnz_factor = static_cast<std::int64_t>(numeric_->lnz + numeric_->unz);
    stats_.flops = common_.flops;
    stats_.method = fmt::format("LU, BTF + {} ordering{}", given_ ? "given" : "AMD",
                                refactored_ ? ", refactorized in the previous pivot order" : "");
    return Status::ok();
  }

  Status solve(Eigen::MatrixXd& b, int /*threads*/) override {
    if (numeric_ == nullptr) return {StatusCode::kBackendFailure, "KLU: solve before factorize"};
    if (!klu_l_solve(symbolic_, numeric_, b.rows(), b.cols(), b.data(), &common_)) {
      return {StatusCode::kBackendFailure,
              fmt::format("KLU solve failed (status {})", common_.status)};
    }
    return Status::ok();
  }

  bool has_schur_complement() const override { return false; }
  StatusOr<Eigen::MatrixXd> trailing_schur_complement(std::int64_t /*nb*/,
                                                      std::int64_t /*cols*/) override {
    return Status{StatusCode::kBackendFailure,
                  "KLU: no Schur complement from an LU factor with pivoting"};
  }

  FactorStats stats() const override { return stats_; }
  std::int64_t failed_index() const override { return failed_; }
  double rcond() override {
    return numeric_ != nullptr && klu_l_rcond(symbolic_, numeric_, &common_) ? common_.rcond : 0.0;
  }

 private:
  void release() {
    if (numeric_ != nullptr) klu_l_free_numeric(&numeric_, &common_);
    if (symbolic_ != nullptr) klu_l_free_symbolic(&symbolic_, &common_);
  }
  klu_l_common common_{};
  klu_l_symbolic* symbolic_ = nullptr;
  klu_l_numeric* numeric_ = nullptr;
  bool given_ = false;
  bool refactored_ = false;
  // Pivot-size ratio of the last fresh factorization; a refactorization whose ratio falls
  // below kRcondDrop times it is redone from scratch.
  static constexpr double kRcondDrop = 1e-3;
  double fresh_rcond_ = 0.0;
  FactorStats stats_;
  std::int64_t failed_ = -1;
};

// -------------------------------------------------------------------------------------- Dense
class DenseSolver final : public LinearSolver {
 public:
  Backend backend() const override { return Backend::kDense; }

  std::unique_ptr<LinearSolver> clone() const override {
    auto copy = std::make_unique<DenseSolver>();
    copy->llt_ = llt_;
    copy->stats_ = stats_;
    copy->failed_ = failed_;
    return copy;
  }

  Status analyze(const SparseMatrix& a, std::span<const std::int64_t> /*ordering*/) override {
    ++analyses_;
    if (a.rows() > kDenseBackendMaxUnknowns) {
      return Status::invalid_argument(
          fmt::format("dense backend: {} unknowns exceed its limit of {}; use cholmod or klu",
                      a.rows(), kDenseBackendMaxUnknowns));
    }
    stats_ = {};
    stats_.n = a.rows();
    stats_.nnz_matrix = a.nonZeros();
    stats_.nnz_factor = a.rows() * (a.rows() + 1) / 2;
    stats_.flops = std::pow(static_cast<double>(a.rows()), 3) / 3.0;
    stats_.method = "dense LLT";
    return Status::ok();
  }

  Status factorize(const SparseMatrix& a) override {
    failed_ = -1;
    const Eigen::MatrixXd dense(a);
    llt_.compute(dense);
    if (llt_.info() != Eigen::Success) {
      // Locate the breakdown with an unblocked pass, for the message.
      Eigen::MatrixXd l = dense;
      for (Eigen::Index k = 0; k < l.rows(); ++k) {
        double d = l(k, k) - l.row(k).head(k).squaredNorm();
        if (!(d > 0.0)) {
          failed_ = k;
          break;
        }
        l(k, k) = std::sqrt(d);
        for (Eigen::Index i = k + 1; i < l.rows(); ++i) {
          l(i, k) = (l(i, k) - l.row(i).head(k).dot(l.row(k).head(k))) / l(k, k);
        }
      }
      return {StatusCode::kNotPositiveDefinite,
              fmt::format("dense LLT: matrix not positive definite at pivot {} of {}", failed_,
                          a.rows())};
    }
    return Status::ok();
  }

  Status solve(Eigen::MatrixXd& b, int /*threads*/) override {
    b = llt_.solve(b);
    return Status::ok();
  }

  StatusOr<Eigen::MatrixXd> trailing_schur_complement(std::int64_t nb, std::int64_t cols) override {
    if (nb < 0 || nb > llt_.rows() || cols < 0 || cols > nb) {
      return Status{
          StatusCode::kFailedPrecondition,
          fmt::format("dense LLT: trailing_schur_complement({}, {}) of a {}-unknown factor", nb,
                      cols, llt_.rows())};
    }
    // Natural order: the trailing block of L belongs to the last nb unknowns.
    const Eigen::MatrixXd lbb =
        llt_.matrixLLT().bottomRightCorner(nb, nb).triangularView<Eigen::Lower>();
    return schur_columns(lbb, cols);
  }

  FactorStats stats() const override { return stats_; }
  std::int64_t failed_index() const override { return failed_; }
  double rcond() override {
    const Eigen::VectorXd d = llt_.matrixLLT().diagonal().cwiseAbs();
    if (d.size() == 0 || !(d.maxCoeff() > 0.0)) return 0.0;
    const double r = d.minCoeff() / d.maxCoeff();
    return r * r;
  }

 private:
  Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt_;
  FactorStats stats_;
  std::int64_t failed_ = -1;
};

}  // namespace

std::unique_ptr<LinearSolver> make_linear_solver(Backend backend) {
  switch (backend) {
    case Backend::kCholmod:
      return std::make_unique<CholmodSolver>();
    case Backend::kKlu:
      return std::make_unique<KluSolver>();
    case Backend::kDense:
      return std::make_unique<DenseSolver>();
  }
  return nullptr;
}

}  // namespace xbarnet::solver
