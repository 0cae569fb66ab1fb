// Sparse linear-solver backends behind one interface (Eigen's sparse-solver concept, Ceres'
// SparseCholesky contract): analyze (pattern only), factorize (values), solve (a block of
// right-hand sides at once). The factor is reused for every solve until the next factorize.
#pragma once

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace xbarnet::solver {

// Column-compressed, sorted, both triangles stored. 64-bit indices (SuiteSparse's long API), so
// 1024 x 1024 tiles and beyond do not overflow the factor's index space.
using SparseMatrix = Eigen::SparseMatrix<double, Eigen::ColMajor, std::int64_t>;

enum class Backend {
  kCholmod,  // sparse Cholesky (supernodal or simplicial, chosen by CHOLMOD); SPD matrices
  kKlu,      // sparse LU with partial pivoting; general square matrices
  kDense,    // dense Cholesky (Eigen LLT); a reference for tests, small systems only
};

std::string_view to_string(Backend backend);
StatusOr<Backend> parse_backend(std::string_view name);
std::span<const Backend> all_backends();

struct FactorStats {
  std::int64_t n = 0;           // unknowns
  std::int64_t nnz_matrix = 0;  // non-zeros of A (both triangles)
  std::int64_t nnz_factor = 0;  // non-zeros of the factor(s): L for Cholesky, L+U for LU
  double flops = 0.0;           // floating-point operations of one factorization (if known)
  std::string method;           // e.g. "supernodal, METIS ordering"
};

class LinearSolver {
 public:
  virtual ~LinearSolver() = default;
  virtual Backend backend() const = 0;

  // Symbolic analysis: fill-reducing ordering and factor structure, from the pattern of A only.
  // `ordering`, if not empty, is a permutation of 0..n-1 (elimination order) to use instead of
  // the backend's own choice.
  virtual Status analyze(const SparseMatrix& a, std::span<const std::int64_t> ordering = {}) = 0;
  // Numeric factorization of A, which must have the pattern given to analyze().
  // On failure, failed_index() gives the unknown at which it broke down (or -1).
  virtual Status factorize(const SparseMatrix& a) = 0;
  // Solves A X = B in place for the n x K block `b_to_x`; `threads` OpenMP threads may share
  // the block's columns.
  virtual Status solve(Eigen::MatrixXd& b_to_x, int threads) = 0;
  // The same for a node-major block: `bt_to_xt` is K x n, B^T in, X^T out, so that the K values
  // of one unknown are contiguous. By default through solve() on the transpose; the supernodal
  // CHOLMOD factor solves it in place.
  virtual Status solve_node_major(Eigen::MatrixXd& bt_to_xt, int threads) {
    Eigen::MatrixXd b = bt_to_xt.transpose();
    if (Status s = solve(b, threads); !s.is_ok()) return s;
    bt_to_xt = b.transpose();
    return Status::ok();
  }

  // After factorize(), for a Cholesky factor P A P^T = L L^T whose elimination order ends with
  // `nb` given unknowns (the last nb entries of the ordering passed to analyze(), or of the
  // natural order): L_BB L_BB^T, the trailing nb x nb block, which is the Schur complement of A
  // onto those unknowns, in the order they were given; only its first `cols` columns
  // (L_BB L_B1^T with L_B1 the first `cols` rows of L_BB: a fraction of the product when fewer
  // are needed). A factor that keeps the Schur complement (keep_schur_complement()) returns
  // its columns as they are, for nb equal to the count kept. Backends without it return an
  // error.
  virtual StatusOr<Eigen::MatrixXd> trailing_schur_complement(std::int64_t nb,
                                                              std::int64_t cols) = 0;
  // Whether trailing_schur_complement() is available (Cholesky factors: yes; LU with pivoting:
  // no).
  virtual bool has_schur_complement() const { return true; }

  // Asks that from now on only the leading n - nb unknowns be factorized and the trailing nb x nb
  // block keep the Schur complement S itself (what trailing_schur_complement() returns, read
  // instead of multiplied back from a factor): the boundary of a transfer-mode system, whose
  // own Cholesky nothing needs. Whether the factor then holds it: schur_complement_kept().
  // By default ignored (the whole matrix is factorized).
  virtual void keep_schur_complement(std::int64_t /*nb*/) {}
  // After factorize(): whether the factor holds the trailing block's Schur complement instead
  // of its factor. Solves then take the trailing nb unknowns as given: their values in the
  // right-hand side are kept, and the leading unknowns solve A_11 x_1 = b_1 - A_12 x_2.
  virtual bool schur_complement_kept() const { return false; }

  virtual FactorStats stats() const = 0;
  virtual std::int64_t failed_index() const = 0;
  // After factorize(): a cheap estimate of the reciprocal condition number of A from the
  // factor's diagonal ((min L_kk / max L_kk)^2 for Cholesky, min |U_kk| / max |U_kk| for LU).
  // With a kept Schur complement, of the factorized leading block A_11 (what a solve with the
  // trailing unknowns given inverts).
  virtual double rcond() = 0;

  // A copy that shares nothing with this one and holds the same symbolic analysis, so that
  // systems of one pattern pay one analysis; factorize() it before solving (a numeric factor
  // is not always copied). The copy's analyses() count starts at 0: it ran none.
  virtual std::unique_ptr<LinearSolver> clone() const = 0;

  // How many symbolic analyses this backend object has run (each analyze() call).
  int analyses() const { return analyses_; }

 protected:
  int analyses_ = 0;
};

std::unique_ptr<LinearSolver> make_linear_solver(Backend backend);

// Largest system the dense reference backend accepts (unknowns); it needs n^2 doubles.
inline constexpr std::int64_t kDenseBackendMaxUnknowns = 20000;

}  // namespace xbarnet::solver
