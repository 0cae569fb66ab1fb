// A left-looking supernodal Cholesky factorization (Ng and Peyton's algorithm) on a symbolic
// structure computed elsewhere (CHOLMOD's cholmod_analyze), without OpenMP.
//
// Why not cholmod_factorize: Debian's CHOLMOD opens an OpenMP parallel region for every
// supernode and every descendant update, guarded by `if` clauses that keep them on one thread for
// small supernodes. libgomp still builds a team and ends it with a barrier whose last thread
// wakes the waiters by a futex system call, whether anyone waits or not: about 1.2e5 system calls
// per factorization of a 256 x 256 tile, which took twice as long as this code (docs/performance.md
// has the profile). The algorithm here is the same as CHOLMOD's supernodal one and writes the same
// layout, so CHOLMOD's solves, rcond and copies work on the result.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "solver/linear_solver.hpp"

namespace xbarnet::solver {

// A supernodal factor's structure in CHOLMOD's layout: supernode s holds the columns
// super[s] .. super[s+1]-1 of L; its row indices are s_rows[pi[s] .. pi[s+1]-1] (the first
// ones are its own columns, in order); its values are a column-major nrow x ncol block at
// x + px[s].
struct SupernodalLayout {
  std::int64_t n = 0;
  std::int64_t nsuper = 0;
  const std::int64_t* super = nullptr;  // nsuper + 1
  const std::int64_t* pi = nullptr;     // nsuper + 1
  const std::int64_t* px = nullptr;     // nsuper + 1
  const std::int64_t* s_rows = nullptr;
  std::int64_t xsize = 0;  // values of L
};

class SupernodalCholesky {
 public:
  // Where every entry of A (both triangles stored, the pattern given to the analysis) lands in
  // L's values for P A P^T, with `perm` the factor's order (row k of P A P^T is row perm[k] of
  // A; nullptr: natural). Once per pattern; copies of this object share it. Like CHOLMOD with a
  // lower-triangle view, only A's lower triangle is read (an upper entry without a lower
  // mirror counts as 0).
  void prepare(const SupernodalLayout& layout, const SparseMatrix& a, const std::int64_t* perm);
  bool prepared() const { return pattern_ != nullptr; }
  // Whether `a` has the pattern given to prepare() (its size and column pointers).
  bool matches(const SparseMatrix& a) const;

  // L L^T = P A P^T into x (layout.xsize values), A with the pattern given to prepare() (the
  // caller checks matches()). Returns -1, or the first column (in the factor's order) whose
  // pivot is not positive; L is then complete only before that column's supernode.
  //
  // With 0 <= stop < n only the leading `stop` columns are factorized: with P A P^T =
  // [A_11 A_12; A_21 A_22] (A_11 the leading stop x stop block), x holds L_11 and L_21 in
  // their columns and, in the trailing columns' places (lower triangle, the same layout), the
  // Schur complement S = A_22 - L_21 L_21^T = A_22 - A_21 A_11^-1 A_12 itself instead of its
  // factor (what a transfer matrix needs: docs/model.md). The condition estimate is then the
  // leading block's.
  std::int64_t factorize(const SupernodalLayout& layout, const double* a_values, double* x,
                         std::int64_t stop = -1);

  // CHOLMOD's rough reciprocal condition number of the last factorization, if it completed,
  // (min diag L / max diag L)^2 as cholmod_rcond computes it for an LL' factor, from the pivots
  // recorded while each supernode's block was in cache (cholmod_rcond reads the whole factor's
  // diagonal again, strided: about 1.5 ms at 256 x 256); of the factorized columns only (`stop`).
  // 1 when no column was factorized (an empty system, or stop 0), -1 unless the
  // last factorization completed.
  double rcond() const { return rcond_; }

  // Bytes it keeps for an n-unknown system whose supernodes have at most `most_below` rows
  // below their diagonal blocks, for A with nnz_a entries: the shared pattern map and the
  // workspace of one factorization.
  static double bytes(double n, double nnz_a, double most_below);

 private:
  struct Pattern {
    std::int64_t nnz = 0;
    std::vector<std::int64_t> outer;  // A's column pointers (n + 1)
    // The entries of A that land in each supernode, in supernode order: entry source[e] of A's
    // values goes to dest[e] within the supernode's block; supernode s holds e in
    // [first[s], first[s + 1]).
    std::vector<std::int64_t> source, dest, first;
    std::vector<std::int64_t> super_of;  // column -> supernode
    std::int64_t most_rows = 0, most_below = 0;
  };
  std::shared_ptr<const Pattern> pattern_;
  // Workspace, sized by the pattern: made at the first factorization after prepare().
  std::vector<std::int64_t> map_;                 // row -> position in the current supernode
  std::vector<std::int64_t> relative_;            // rows of an update -> positions in the supernode
  std::vector<std::int64_t> head_, next_, lpos_;  // pending updates (linked lists)
  std::vector<double> c_;                         // one update block
  std::vector<double> sum_;                       // one column of a small update
  double rcond_ = -1.0;                           // of the last complete factorization
};

}  // namespace xbarnet::solver
