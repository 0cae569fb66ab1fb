#include "solver/supernodal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#ifndef EIGEN_USE_BLAS
#error "solver/supernodal.cpp needs EIGEN_USE_BLAS (the BLAS declarations of Eigen/src/misc/blas.h)"
#endif

// LAPACK's Cholesky of a dense block (OpenBLAS provides it; Eigen declares only the BLAS).
extern "C" void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);

namespace xbarnet::solver {

namespace {

int blas_int(std::int64_t v) { return static_cast<int>(v); }

// Below this many multiply-adds an update or a diagonal block is done by plain loops: a BLAS
// call costs about as much as a few hundred of them, and most supernodes of a grid's nested
// dissection are small.
constexpr std::int64_t kSmallWork = 2048;

// Cholesky of the n x n lower block at a (leading dimension ld) by columns; returns 0 or the
// 1-based column whose pivot is not positive (as dpotrf's info).
int small_potrf(std::int64_t n, double* a, std::int64_t ld) {
  for (std::int64_t j = 0; j < n; ++j) {
    double* cj = a + j * ld;
    double d = cj[j];
    for (std::int64_t k = 0; k < j; ++k) d -= a[j + k * ld] * a[j + k * ld];
    if (!(d > 0.0)) return static_cast<int>(j + 1);
    d = std::sqrt(d);
    cj[j] = d;
    for (std::int64_t i = j + 1; i < n; ++i) {
      double v = cj[i];
      for (std::int64_t k = 0; k < j; ++k) v -= a[i + k * ld] * a[j + k * ld];
      cj[i] = v / d;
    }
  }
  return 0;
}

// B := B L^-T for the m x n block b below the n x n lower factor l (both leading dimension ld).
void small_trsm(std::int64_t m, std::int64_t n, const double* l, double* b, std::int64_t ld) {
  for (std::int64_t j = 0; j < n; ++j) {
    double* bj = b + j * ld;
    for (std::int64_t k = 0; k < j; ++k) {
      const double f = l[j + k * ld];
      const double* bk = b + k * ld;
      for (std::int64_t i = 0; i < m; ++i) bj[i] -= bk[i] * f;
    }
    const double inv = 1.0 / l[j + j * ld];
    for (std::int64_t i = 0; i < m; ++i) bj[i] *= inv;
  }
}

}  // namespace

void SupernodalCholesky::prepare(const SupernodalLayout& layout, const SparseMatrix& a,
                                 const std::int64_t* perm) {
  auto pat = std::make_shared<Pattern>();
  const std::int64_t n = layout.n;
  const std::int64_t* outer = a.outerIndexPtr();
  const std::int64_t* inner = a.innerIndexPtr();
  pat->nnz = a.nonZeros();
  pat->outer.assign(outer, outer + a.outerSize() + 1);
  pat->super_of.assign(static_cast<size_t>(n), 0);
  for (std::int64_t s = 0; s < layout.nsuper; ++s) {
    for (std::int64_t k = layout.super[s]; k < layout.super[s + 1]; ++k) pat->super_of[k] = s;
    const std::int64_t nrow = layout.pi[s + 1] - layout.pi[s];
    pat->most_rows = std::max(pat->most_rows, nrow);
    pat->most_below = std::max(pat->most_below, nrow - (layout.super[s + 1] - layout.super[s]));
  }
  std::vector<std::int64_t> inverse(static_cast<size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) inverse[perm != nullptr ? perm[k] : k] = k;
  // The lower-triangle copy of each entry q = (i, j): q itself for i >= j, else (j, i) in
  // column i (-1: none). Columns in order meet the rows j of column i in order, so one cursor
  // per column finds them all in O(nnz).
  std::vector<std::int64_t> lower(static_cast<size_t>(pat->nnz));
  {
    std::vector<std::int64_t> cursor(outer, outer + n);
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t q = outer[j]; q < outer[j + 1]; ++q) {
        const std::int64_t i = inner[q];
        if (i >= j) {
          lower[q] = q;
          continue;
        }
        std::int64_t& c = cursor[i];
        while (c < outer[i + 1] && inner[c] < j) ++c;
        lower[q] = c < outer[i + 1] && inner[c] == j ? c : -1;
      }
    }
  }
  // Entry (i, j) of A is entry (inverse[i], inverse[j]) of P A P^T; its lower-triangle copy
  // lands in the column of the smaller of the two.
  pat->source.reserve(static_cast<size_t>(pat->nnz / 2 + n));
  pat->dest.reserve(static_cast<size_t>(pat->nnz / 2 + n));
  pat->first.assign(static_cast<size_t>(layout.nsuper + 1), 0);
  std::vector<std::int64_t> map(static_cast<size_t>(n), -1);
  for (std::int64_t s = 0; s < layout.nsuper; ++s) {
    const std::int64_t k1 = layout.super[s];
    const std::int64_t nrow = layout.pi[s + 1] - layout.pi[s];
    for (std::int64_t r = 0; r < nrow; ++r) map[layout.s_rows[layout.pi[s] + r]] = r;
    pat->first[s] = static_cast<std::int64_t>(pat->dest.size());
    for (std::int64_t k = k1; k < layout.super[s + 1]; ++k) {
      const std::int64_t j = perm != nullptr ? perm[k] : k;
      for (std::int64_t q = outer[j]; q < outer[j + 1]; ++q) {
        const std::int64_t row = inverse[inner[q]];
        if (row < k) continue;
        const std::int64_t from = lower[q];
        if (from < 0) continue;
        pat->source.push_back(from);
        pat->dest.push_back((k - k1) * nrow + map[row]);  // (within the supernode's block)
      }
    }
  }
  pat->first[layout.nsuper] = static_cast<std::int64_t>(pat->dest.size());
  pattern_ = std::move(pat);
  map_.clear();  // the workspace is sized by the pattern: made anew at the next factorization
}

bool SupernodalCholesky::matches(const SparseMatrix& a) const {
  return pattern_ != nullptr && a.nonZeros() == pattern_->nnz &&
         static_cast<size_t>(a.outerSize() + 1) == pattern_->outer.size() &&
         std::equal(pattern_->outer.begin(), pattern_->outer.end(), a.outerIndexPtr());
}

double SupernodalCholesky::bytes(double n, double nnz_a, double most_below) {
  // Pattern: source and dest per lower entry, first and super_of, A's column pointers;
  // workspace: map, relative and sum (n at most), the lists, and one update block.
  return 8.0 * (nnz_a + n) + 3.0 * 8.0 * n + 6.0 * 8.0 * n + 8.0 * most_below * most_below;
}

std::int64_t SupernodalCholesky::factorize(const SupernodalLayout& layout, const double* a_values,
                                           double* x, std::int64_t stop) {
  if (stop < 0 || stop > layout.n) stop = layout.n;
  const Pattern& pat = *pattern_;
  if (map_.empty()) {
    map_.assign(static_cast<size_t>(layout.n), -1);
    relative_.assign(static_cast<size_t>(pat.most_rows), 0);
    sum_.assign(static_cast<size_t>(pat.most_rows), 0.0);
    head_.assign(static_cast<size_t>(layout.nsuper), -1);
    next_.assign(static_cast<size_t>(layout.nsuper), -1);
    lpos_.assign(static_cast<size_t>(layout.nsuper), 0);
    c_.assign(static_cast<size_t>(pat.most_below * pat.most_below), 0.0);
  }
  const std::int64_t* super = layout.super;
  const std::int64_t* pi = layout.pi;
  const std::int64_t* px = layout.px;
  const std::int64_t* ls = layout.s_rows;
  std::fill(head_.begin(), head_.end(), -1);
  rcond_ = -1.0;
  double diag_min = std::numeric_limits<double>::infinity(), diag_max = 0.0;
  const double one = 1.0, zero = 0.0;
  for (std::int64_t s = 0; s < layout.nsuper; ++s) {
    const std::int64_t k1 = super[s], k2 = super[s + 1], ncol = k2 - k1;
    const std::int64_t psi = pi[s], nrow = pi[s + 1] - psi;
    // The columns of s that are factorized (all of them but at and after `stop`).
    const std::int64_t fcol = std::clamp<std::int64_t>(stop - k1, 0, ncol);
    double* ls_x = x + px[s];
    for (std::int64_t r = 0; r < nrow; ++r) map_[ls[psi + r]] = r;
    // The supernode's block starts as A's entries (zeroed here, while it is about to be used).
    std::fill(ls_x, ls_x + nrow * ncol, 0.0);
    for (std::int64_t e = pat.first[s]; e < pat.first[s + 1]; ++e) {
      ls_x[pat.dest[e]] = a_values[pat.source[e]];
    }

    // Every pending descendant d whose next rows fall in s's columns: S -= L_d(rows, :)
    // L_d(rows in s, :)^T, then d waits for the supernode of its next row.
    for (std::int64_t d = head_[s]; d >= 0;) {
      const std::int64_t d_next = next_[d];
      // (Only d's factorized columns update: a supernode straddling `stop` has fewer.)
      const std::int64_t dcol = std::min(super[d + 1], stop) - super[d];
      const std::int64_t pdi = pi[d], drow = pi[d + 1] - pdi;
      const std::int64_t p1 = lpos_[d];
      std::int64_t p2 = p1;
      while (p2 < drow && ls[pdi + p2] < k2) ++p2;
      const std::int64_t m1 = p2 - p1;    // rows of d in s's columns
      const std::int64_t m2 = drow - p1;  // those and the rows below
      const double* ld_x = x + px[d] + p1;
      for (std::int64_t r = 0; r < m2; ++r) relative_[r] = map_[ls[pdi + p1 + r]];
      if (m1 * m2 * dcol <= kSmallWork) {
        // Column j of the update, sum_k L(i, k) L(j, k) for i >= j, by contiguous axpys.
        double* sum = sum_.data();
        for (std::int64_t j = 0; j < m1; ++j) {
          std::fill(sum + j, sum + m2, 0.0);
          for (std::int64_t k = 0; k < dcol; ++k) {
            const double* lk = ld_x + k * drow;
            const double f = lk[j];
            for (std::int64_t i = j; i < m2; ++i) sum[i] += lk[i] * f;
          }
          double* col = ls_x + relative_[j] * nrow;
          for (std::int64_t i = j; i < m2; ++i) col[relative_[i]] -= sum[i];
        }
      } else {
        const int bm1 = blas_int(m1), bm2 = blas_int(m2), bm3 = blas_int(m2 - m1);
        const int bk = blas_int(dcol), bld = blas_int(drow);
        dsyrk_("L", "N", &bm1, &bk, &one, ld_x, &bld, &zero, c_.data(), &bm2);
        if (m2 > m1) {
          dgemm_("N", "T", &bm3, &bm1, &bk, &one, ld_x + m1, &bld, ld_x, &bld, &zero,
                 c_.data() + m1, &bm2);
        }
        for (std::int64_t j = 0; j < m1; ++j) {
          double* col = ls_x + relative_[j] * nrow;
          const double* cj = c_.data() + j * m2;
          for (std::int64_t i = j; i < m2; ++i) col[relative_[i]] -= cj[i];
        }
      }
      lpos_[d] = p2;
      if (p2 < drow) {
        const std::int64_t up = pat.super_of[ls[pdi + p2]];
        next_[d] = head_[up];
        head_[up] = d;
      }
      d = d_next;
    }

    // Past `stop` the block keeps the Schur complement: nothing to factorize, nothing to pass on.
    if (fcol == 0) continue;
    // Factorize s (its leading fcol columns when it straddles `stop`): the diagonal block, then
    // the rows below it.
    int info = 0;
    if (fcol * fcol * fcol <= 3 * kSmallWork) {
      info = small_potrf(fcol, ls_x, nrow);
    } else {
      const int bn = blas_int(fcol), bld = blas_int(nrow);
      dpotrf_("L", &bn, ls_x, &bld, &info);
    }
    if (info != 0) return k1 + info - 1;
    for (std::int64_t j = 0; j < fcol; ++j) {
      // dpotrf passes a NaN pivot (it only refuses non-positive ones): refused here, as by
      // small_potrf, rather than left to spread through the factor.
      const double d = ls_x[j * nrow + j];
      if (!(d > 0.0)) return k1 + j;
      diag_min = std::min(diag_min, d);
      diag_max = std::max(diag_max, d);
    }
    if (nrow > fcol) {
      if ((nrow - fcol) * fcol * fcol <= 2 * kSmallWork) {
        small_trsm(nrow - fcol, fcol, ls_x, ls_x + fcol, nrow);
      } else {
        const int bm = blas_int(nrow - fcol), bn = blas_int(fcol), bld = blas_int(nrow);
        dtrsm_("R", "L", "T", "N", &bm, &bn, &one, ls_x, &bld, ls_x + fcol, &bld);
      }
    }
    if (fcol < ncol) {
      // The factorized columns' update of s's own trailing columns (rows fcol.. of them, lower
      // triangle): S -= L_21 L_21^T there. Once per factorization, so always through the BLAS.
      const int bt = blas_int(ncol - fcol), bk = blas_int(fcol), bld = blas_int(nrow);
      const double minus_one = -1.0;
      double* trailing = ls_x + fcol * nrow + fcol;
      dsyrk_("L", "N", &bt, &bk, &minus_one, ls_x + fcol, &bld, &one, trailing, &bld);
      if (nrow > ncol) {
        const int bb = blas_int(nrow - ncol);
        dgemm_("N", "T", &bb, &bt, &bk, &minus_one, ls_x + ncol, &bld, ls_x + fcol, &bld, &one,
               trailing + (ncol - fcol), &bld);
      }
    }
    if (nrow > ncol) {
      lpos_[s] = ncol;
      const std::int64_t up = pat.super_of[ls[psi + ncol]];
      next_[s] = head_[up];
      head_[up] = s;
    }
  }
  // (Every pivot is positive here; an infinite one gives 0, all of them infinite NaN, made 0.)
  const double ratio = diag_min / diag_max;
  rcond_ = stop == 0 ? 1.0 : (std::isnan(ratio) ? 0.0 : ratio * ratio);
  return -1;
}

}  // namespace xbarnet::solver
