#include "corrections/corrections.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <utility>

#include "core/enum.hpp"
#include "solver/crossbar_system.hpp"

namespace xbarnet::corrections {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Eigen::VectorXd unit_gain(const TileProblem& p) { return Eigen::VectorXd::Ones(p.target.cols()); }
Eigen::VectorXd unit_scale(const TileProblem& p) { return Eigen::VectorXd::Ones(p.target.rows()); }

// T of the tile programmed with given conductances: one system, assembled and analyzed once,
// then re-stamped and refactorized per call.
class TileSolver {
 public:
  static StatusOr<TileSolver> make(const TileProblem& p) {
    const netlists::Crossbar xbar = netlists::Crossbar::uniform(p.target, p.parasitics);
    solver::SystemOptions options;
    options.backend = p.backend;
    options.ordering = solver::Ordering::kNestedDissection;
    options.mode = solver::Mode::kTransfer;
    StatusOr<solver::CrossbarSystem> sys = solver::CrossbarSystem::assemble(xbar, options);
    if (!sys.is_ok()) return sys.status();
    if (Status s = sys.value().analyze(); !s.is_ok()) return s;
    return TileSolver(std::move(sys).value());
  }

  StatusOr<Eigen::MatrixXd> transfer(const Eigen::MatrixXd& g) {
    if (Status s = system_.set_conductances(g); !s.is_ok()) return s;
    if (Status s = system_.factorize(); !s.is_ok()) return s;
    StatusOr<solver::TransferMatrix> t = system_.transfer_matrix(1, false);
    if (!t.is_ok()) return t.status();
    return std::move(t).value().t;
  }

  int factorizations() const { return system_.counters().factorizations; }

 private:
  explicit TileSolver(solver::CrossbarSystem s) : system_(std::move(s)) {}
  solver::CrossbarSystem system_;
};

// Programmed conductances and the cells whose bound binds.
struct Programmed {
  Eigen::MatrixXd g;
  std::int64_t at_min = 0, at_max = 0;
};
std::int64_t count_changed(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a.array() != b.array()).count();
}

Eigen::VectorXd gain_for_beta(const TileProblem& p, double beta) {
  Eigen::VectorXd g = unit_gain(p);
  for (Index j : p.used_cols) g(j) = 1.0 / beta;
  return g;
}

}  // namespace

Side side_of(Scheme s) {
  switch (s) {
    case Scheme::kNone:
      return Side::kNone;
    case Scheme::kPredistortion:
    case Scheme::kExactCompensation:
      return Side::kProgramming;
    case Scheme::kColumnGain:
    case Scheme::kInputScaling:
      return Side::kRead;
  }
  return Side::kNone;
}

std::string_view to_string(Scheme s) {
  switch (s) {
    case Scheme::kNone:
      return "none";
    case Scheme::kColumnGain:
      return "column_gain";
    case Scheme::kPredistortion:
      return "predistortion";
    case Scheme::kExactCompensation:
      return "exact_compensation";
    case Scheme::kInputScaling:
      return "input_scaling";
  }
  return "unknown";
}

StatusOr<Scheme> parse_scheme(std::string_view text) {
  return core::parse_enum("scheme", text, kAllSchemes);
}

const core::ParameterTable<CorrectionParams>& correction_parameters() {
  using core::Range;
  static const auto kTable =
      core::ParameterTable<CorrectionParams>("correction")
          .choice("scheme", &CorrectionParams::scheme, kAllSchemes,
                  "parasitic-resistance correction of each tile: none, column_gain (read-side "
                  "gain per column), predistortion (closed-form series-resistance estimate), "
                  "exact_compensation (solver in the loop), input_scaling (voltage per row)")
          .integer("max_refactorizations", &CorrectionParams::max_refactorizations, "",
                   Range::between(1, 1000),
                   "exact_compensation: numeric factorizations of the tile in all")
          .real("tolerance", &CorrectionParams::tolerance, "", Range::half_open(1e-12, 1.0),
                "exact_compensation: stop when the relative error of the corrected T falls "
                "below this")
          .real("driver_headroom", &CorrectionParams::driver_headroom, "", Range::between(1, 100),
                "input_scaling: the largest row-voltage factor the driver can output "
                "(its range over v_read)")
          .boolean("target_scaling", &CorrectionParams::target_scaling,
                   "predistortion, exact_compensation: match beta G^T with one beta <= 1 per "
                   "tile that the bounds allow, undone by a digital gain 1/beta (false: beta = 1, "
                   "cells that cannot follow sit on their bound)")
          .real("beta_margin", &CorrectionParams::beta_margin, "", Range::between(0.5, 1),
                "target_scaling: beta is this fraction of the largest beta the bounds allow")
          .integer("anderson_depth", &CorrectionParams::anderson_depth, "", Range::between(0, 10),
                   "exact_compensation: iterates remembered by the Anderson acceleration",
                   "0 = plain fixed point");
  return kTable;
}

Status validate(const CorrectionParams& p) { return correction_parameters().validate(p); }

Status validate(const TileProblem& p) {
  const Index r = p.target.rows(), c = p.target.cols();
  if (r < 1 || c < 1) {
    return Status::invalid_argument(fmt::format("target is {} x {}: must be at least 1 x 1", r, c));
  }
  if (!(p.g_min > 0.0) || !(p.g_max > p.g_min) || !std::isfinite(p.g_max)) {
    return Status::invalid_argument(fmt::format(
        "g_min = {} S, g_max = {} S: must be finite with 0 < g_min < g_max", p.g_min, p.g_max));
  }
  if (p.used_rows < 1 || p.used_rows > r) {
    return Status::invalid_argument(
        fmt::format("used_rows = {}: must be in 1 .. {} (the tile's rows)", p.used_rows, r));
  }
  if (p.used_cols.empty()) return Status::invalid_argument("used_cols is empty: must list >= 1");
  for (std::size_t k = 0; k < p.used_cols.size(); ++k) {
    const Index j = p.used_cols[k];
    if (j < 0 || j >= c || (k > 0 && j <= p.used_cols[k - 1])) {
      return Status::invalid_argument(fmt::format(
          "used_cols[{}] = {}: must be ascending, distinct and in 0 .. {}", k, j, c - 1));
    }
  }
  for (Index j = 0; j < c; ++j) {
    for (Index i = 0; i < r; ++i) {
      const double g = p.target(i, j);
      if (!std::isfinite(g) || g <= 0.0) {
        return Status::invalid_argument(
            fmt::format("target({}, {}) = {} S: must be finite and > 0", i, j, g));
      }
    }
  }
  const netlists::Parasitics& q = p.parasitics;
  for (auto [name, v] : {std::pair{"r_source", q.r_source}, std::pair{"r_wordline", q.r_wordline},
                         std::pair{"r_bitline", q.r_bitline}, std::pair{"r_neuron", q.r_neuron}}) {
    if (!std::isfinite(v) || v < 0.0) {
      return Status::invalid_argument(
          fmt::format("{} = {} ohm: must be finite and >= 0 (every used row is driven and every "
                      "used column sensed)",
                      name, v));
    }
  }
  return Status::ok();
}

double relative_error(const Eigen::MatrixXd& t, const Eigen::VectorXd& column_gain,
                      const Eigen::VectorXd& row_scale, const TileProblem& p) {
  XBARNET_ASSERT(t.rows() == p.target.cols() && t.cols() == p.target.rows(),
                 "relative_error: T must be C x R");
  XBARNET_ASSERT(column_gain.size() == p.target.cols() && row_scale.size() == p.target.rows(),
                 "relative_error: gain has C entries, scale R");
  double num = 0.0, den = 0.0;
  for (Index j : p.used_cols) {
    for (Index i = 0; i < p.used_rows; ++i) {
      const double g = p.target(i, j);
      const double e = column_gain(j) * t(j, i) * row_scale(i) - g;
      num += e * e;
      den += g * g;
    }
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

namespace {

// The superposition model of the header comment for one beta: fills G' (R x C, the target outside
// the used part) and returns false where a used cell has no positive solution (wants > any G).
struct ModelState {
  Eigen::MatrixXd g;         // programmed, unclipped (+inf where infeasible)
  Eigen::MatrixXd leak;      // L_ij
  Eigen::MatrixXd wordline;  // d_ij
};

ModelState predistortion_model(const TileProblem& p, double beta, int sweeps) {
  const Index r = p.target.rows(), c = p.target.cols();
  const netlists::Parasitics& q = p.parasitics;
  std::vector<char> used(static_cast<std::size_t>(c), 0);
  for (Index j : p.used_cols) used[static_cast<std::size_t>(j)] = 1;
  ModelState m{p.target, Eigen::MatrixXd::Zero(r, c), Eigen::MatrixXd::Zero(r, c)};
  for (Index j : p.used_cols)
    for (Index i = 0; i < p.used_rows; ++i) m.g(i, j) = beta * p.target(i, j);
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    // L_ij = sum_{k != i} G'_kj (R_n + r_b (R-1-max(k,i))), with G' clipped to the bounds.
    for (Index j : p.used_cols) {
      Eigen::VectorXd g = m.g.col(j);
      for (Index i = 0; i < p.used_rows; ++i) g(i) = std::clamp(g(i), p.g_min, p.g_max);
      const double total = g.sum();
      double upto = 0.0;     // sum_{k<=i} G'_kj
      double after_w = 0.0;  // sum_{k>i} G'_kj (R-1-k)
      for (Index k = 0; k < r; ++k) after_w += g(k) * static_cast<double>(r - 1 - k);
      for (Index i = 0; i < p.used_rows; ++i) {
        upto += g(i);
        after_w -= g(i) * static_cast<double>(r - 1 - i);
        const double shared = upto * static_cast<double>(r - 1 - i) + after_w;
        const double own = g(i) * (q.r_neuron + q.r_bitline * static_cast<double>(r - 1 - i));
        m.leak(i, j) = q.r_neuron * total + q.r_bitline * shared - own;
      }
    }
    // d_ij = sum_l (R_s + r_w min(l,j)) c_il, c_il = beta G_il (1 + L_il) (unused: G_il).
    for (Index i = 0; i < p.used_rows; ++i) {
      Eigen::VectorXd cur(c);
      for (Index l = 0; l < c; ++l)
        cur(l) = used[static_cast<std::size_t>(l)] != 0
                     ? beta * p.target(i, l) * (1.0 + m.leak(i, l))
                     : p.target(i, l);
      const double total = cur.sum();
      double below = 0.0, at_least = total;  // sum_{l<j} c_il l, sum_{l>=j} c_il
      Index next = 0;
      for (Index j : p.used_cols) {
        for (; next < j; ++next) {
          below += cur(next) * static_cast<double>(next);
          at_least -= cur(next);
        }
        m.wordline(i, j) =
            q.r_source * total + q.r_wordline * (below + static_cast<double>(j) * at_least);
        const double b_own = q.r_neuron + q.r_bitline * static_cast<double>(r - 1 - i);
        const double cell = beta * p.target(i, j) * (1.0 + m.leak(i, j));  // cell current / v
        const double denom = 1.0 - m.wordline(i, j) - cell * b_own;
        m.g(i, j) = denom > 0.0 ? cell / denom : std::numeric_limits<double>::infinity();
      }
    }
  }
  return m;
}

constexpr int kModelSweeps = 3;

// The largest beta in (0, 1] whose model G' fits under G_max (bisection; G' grows with beta).
double largest_feasible_beta(const TileProblem& p) {
  auto fits = [&](double beta) {
    const ModelState m = predistortion_model(p, beta, kModelSweeps);
    for (Index j : p.used_cols)
      for (Index i = 0; i < p.used_rows; ++i)
        if (!(m.g(i, j) <= p.g_max)) return false;
    return true;
  };
  if (fits(1.0)) return 1.0;
  double lo = 0.0, hi = 1.0;
  for (int k = 0; k < 30; ++k) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace

Eigen::MatrixXd equivalent_series_resistance(const TileProblem& p, double beta) {
  const ModelState m = predistortion_model(p, beta, kModelSweeps);
  Eigen::MatrixXd r_eq = Eigen::MatrixXd::Constant(p.target.rows(), p.target.cols(),
                                                   std::numeric_limits<double>::infinity());
  for (Index j : p.used_cols)
    for (Index i = 0; i < p.used_rows; ++i)
      r_eq(i, j) = 1.0 / (beta * p.target(i, j)) - 1.0 / m.g(i, j);
  return r_eq;
}

namespace {

// The smallest target scale a write-side scheme accepts: below it the digital gain 1/beta would
// amplify everything after the read beyond use (and beta = 0 would make it infinite).
constexpr double kSmallestBeta = 1e-6;

Status check_beta(double beta, const TileProblem& p) {
  if (beta >= kSmallestBeta) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "no target scale beta in [{:g}, 1] fits under G_max = {:g} S (beta = {:g}): with r_source "
      "= {:g} ohm, r_wordline = {:g} ohm, r_bitline = {:g} ohm, r_neuron = {:g} ohm the lines "
      "lose too much of the cells' current for any programmed conductance to make it up "
      "(use target_scaling = false to keep beta = 1 and let cells sit on their bounds, or "
      "smaller parasitic resistances)",
      kSmallestBeta, p.g_max, beta, p.parasitics.r_source, p.parasitics.r_wordline,
      p.parasitics.r_bitline, p.parasitics.r_neuron));
}

struct Predistorted {
  Programmed pg;
  double beta = 1.0;
};

Predistorted predistort(const TileProblem& p, const CorrectionParams& params,
                        double beta_given = 0.0) {
  Predistorted out;
  if (beta_given > 0.0) {
    out.beta = beta_given;
  } else if (params.target_scaling) {
    const double largest = largest_feasible_beta(p);
    out.beta = largest >= 1.0 ? 1.0 : params.beta_margin * largest;
  }
  const ModelState m = predistortion_model(p, out.beta, kModelSweeps);
  out.pg.g = p.target;
  for (Index j : p.used_cols) {
    for (Index i = 0; i < p.used_rows; ++i) {
      const double g = m.g(i, j);
      if (!(g < p.g_max)) {
        out.pg.g(i, j) = p.g_max;
        out.pg.at_max += g > p.g_max ? 1 : 0;
      } else if (g <= p.g_min) {
        out.pg.g(i, j) = p.g_min;
        out.pg.at_min += g < p.g_min ? 1 : 0;
      } else {
        out.pg.g(i, j) = g;
      }
    }
  }
  return out;
}

}  // namespace

namespace {

// The inputs of a read-side scheme: the tile, the parameters, and a measured T of C x R.
Status validate_read_side(const TileProblem& p, const CorrectionParams& params,
                          const Eigen::MatrixXd& measured_t) {
  if (Status s = validate(p); !s.is_ok()) return s;
  if (Status s = validate(params); !s.is_ok()) return s;
  const Index r = p.target.rows(), c = p.target.cols();
  if (measured_t.rows() != c || measured_t.cols() != r) {
    return Status::invalid_argument(fmt::format("measured T is {} x {}: must be C x R = {} x {}",
                                                measured_t.rows(), measured_t.cols(), c, r));
  }
  return Status::ok();
}

}  // namespace

StatusOr<TileCorrection> column_gain(const TileProblem& p, const Eigen::MatrixXd& measured_t,
                                     const CorrectionParams& params,
                                     const Eigen::MatrixXd& calibration_inputs) {
  const auto t0 = Clock::now();
  if (Status s = validate_read_side(p, params, measured_t); !s.is_ok()) return s;
  const Index r = p.target.rows();
  Eigen::MatrixXd x = calibration_inputs;
  if (x.size() == 0) {
    x = Eigen::MatrixXd::Zero(1, r);
    x.leftCols(p.used_rows).setConstant(params.v_read);
  } else if (x.cols() != r || !x.allFinite()) {
    return Status::invalid_argument(
        fmt::format("calibration inputs are {} x {}: must be K x R = K x {} and finite", x.rows(),
                    x.cols(), r));
  }
  x.rightCols(r - p.used_rows).setZero();                       // unused rows are never driven
  const Eigen::MatrixXd ideal = x * p.target;                   // K x C [A]
  const Eigen::MatrixXd measured = x * measured_t.transpose();  // K x C [A]
  TileCorrection out{p.target, unit_gain(p), unit_scale(p), {}};
  for (Index j : p.used_cols) {
    const double mm = measured.col(j).squaredNorm();
    if (!(mm > 0.0)) {
      return Status::invalid_argument(fmt::format(
          "column {}: the calibration read measured no current (sum of squares {} A^2)", j, mm));
    }
    out.column_gain(j) = ideal.col(j).dot(measured.col(j)) / mm;
  }
  CorrectionReport& rep = out.report;
  rep.scheme = std::string(to_string(Scheme::kColumnGain));
  rep.error_before = relative_error(measured_t, unit_gain(p), unit_scale(p), p);
  rep.error_after = relative_error(measured_t, out.column_gain, unit_scale(p), p);
  rep.stop_reason = "calibrated";
  rep.calibration_reads = x.rows();
  rep.seconds = seconds_since(t0);
  rep.assumes = fmt::format(
      "the ideal column currents of {} calibration read(s) (known inputs and target "
      "conductances) and the measured ones; one gain per column",
      x.rows());
  return out;
}

StatusOr<TileCorrection> input_scaling(const TileProblem& p, const Eigen::MatrixXd& measured_t,
                                       const CorrectionParams& params) {
  const auto t0 = Clock::now();
  if (Status s = validate_read_side(p, params, measured_t); !s.is_ok()) return s;
  TileCorrection out{p.target, unit_gain(p), unit_scale(p), {}};
  CorrectionReport& rep = out.report;
  for (Index i = 0; i < p.used_rows; ++i) {
    double ideal = 0.0, measured = 0.0;
    for (Index j : p.used_cols) {
      ideal += p.target(i, j);
      measured += measured_t(j, i);
    }
    double s = measured > 0.0 ? ideal / measured : params.driver_headroom;
    if (s > params.driver_headroom) {
      s = params.driver_headroom;
      ++rep.rows_at_headroom;
    }
    out.row_scale(i) = std::max(1.0, s);
  }
  rep.scheme = std::string(to_string(Scheme::kInputScaling));
  rep.error_before = relative_error(measured_t, unit_gain(p), unit_scale(p), p);
  rep.error_after = relative_error(measured_t, unit_gain(p), out.row_scale, p);
  rep.stop_reason = rep.rows_at_headroom > 0 ? "bounds_bind" : "calibrated";
  rep.calibration_reads = p.used_rows;
  rep.seconds = seconds_since(t0);
  rep.assumes = fmt::format(
      "per used row, the measured sum of its used column currents with that row alone driven "
      "({} reads), and a driver range of {} x v_read",
      p.used_rows, params.driver_headroom);
  return out;
}

StatusOr<TileCorrection> predistortion(const TileProblem& p, const CorrectionParams& params) {
  auto t0 = Clock::now();
  if (Status s = validate(p); !s.is_ok()) return s;
  if (Status s = validate(params); !s.is_ok()) return s;
  const Predistorted pd = predistort(p, params);
  if (Status s = check_beta(pd.beta, p); !s.is_ok()) return s;
  const Programmed& pg = pd.pg;
  const double beta = pd.beta;
  TileCorrection out{pg.g, gain_for_beta(p, beta), unit_scale(p), {}};
  CorrectionReport& rep = out.report;
  rep.scheme = std::string(to_string(Scheme::kPredistortion));
  rep.beta = beta;
  rep.cells_at_g_min = pg.at_min;
  rep.cells_at_g_max = pg.at_max;
  rep.reprogrammed_cells = count_changed(pg.g, p.target);
  rep.stop_reason = "closed_form";
  rep.assumes =
      "uniform parasitics and the target conductances (superposition estimate of each cell's "
      "series parasitic resistance; no read, no solve)";
  rep.seconds = seconds_since(t0);
  // Checking only: the exact T before and after.
  t0 = Clock::now();
  StatusOr<TileSolver> solver = TileSolver::make(p);
  if (!solver.is_ok()) return solver.status();
  StatusOr<Eigen::MatrixXd> before = solver.value().transfer(p.target);
  if (!before.is_ok()) return before.status();
  StatusOr<Eigen::MatrixXd> after = solver.value().transfer(out.programmed);
  if (!after.is_ok()) return after.status();
  rep.error_before = relative_error(before.value(), unit_gain(p), unit_scale(p), p);
  rep.error_after = relative_error(after.value(), out.column_gain, out.row_scale, p);
  rep.check_seconds = seconds_since(t0);
  return out;
}

StatusOr<TileCorrection> exact_compensation(const TileProblem& p, const CorrectionParams& params) {
  auto t0 = Clock::now();
  if (Status s = validate(p); !s.is_ok()) return s;
  if (Status s = validate(params); !s.is_ok()) return s;
  if (params.target_scaling) {
    if (Status s = check_beta(largest_feasible_beta(p), p); !s.is_ok()) return s;
  }
  StatusOr<TileSolver> made = TileSolver::make(p);
  if (!made.is_ok()) return made.status();
  TileSolver& solver = made.value();

  // The used cells as vectors (column-major over used_cols x used rows); T read transposed.
  const Index nk = p.used_rows;
  const Index n = nk * static_cast<Index>(p.used_cols.size());
  auto cells = [&](const Eigen::MatrixXd& m, bool transposed) {
    Eigen::VectorXd v(n);
    Index k = 0;
    for (Index j : p.used_cols)
      for (Index i = 0; i < nk; ++i) v(k++) = transposed ? m(j, i) : m(i, j);
    return v;
  };
  const Eigen::VectorXd g_target = cells(p.target, false);
  const double g_norm = g_target.norm();

  // The model asked for beta q (q > 0 per used cell): beta from the model's bounds (bisection,
  // as kPredistortion) and the model's G', clipped to the bounds.
  TileProblem model_problem = p;
  auto programme = [&](const Eigen::VectorXd& log_q, double& beta) {
    Index k = 0;
    for (Index j : p.used_cols)
      for (Index i = 0; i < nk; ++i) model_problem.target(i, j) = std::exp(log_q(k++));
    beta = 1.0;
    if (params.target_scaling) {
      const double largest = largest_feasible_beta(model_problem);
      beta = std::max(kSmallestBeta, largest >= 1.0 ? 1.0 : params.beta_margin * largest);
    }
    const ModelState m = predistortion_model(model_problem, beta, kModelSweeps);
    Eigen::MatrixXd g = p.target;
    for (Index j : p.used_cols)
      for (Index i = 0; i < nk; ++i) g(i, j) = std::clamp(m.g(i, j), p.g_min, p.g_max);
    return g;
  };

  // The uncorrected tile: error_before, and the fallback (a correction never returns worse).
  StatusOr<Eigen::MatrixXd> t_target = solver.transfer(p.target);
  if (!t_target.is_ok()) return t_target.status();
  const double error_before = relative_error(t_target.value(), unit_gain(p), unit_scale(p), p);

  Eigen::VectorXd log_q = g_target.array().log();  // q = G: the kPredistortion start
  Eigen::MatrixXd best_g = p.target;
  double best_err = error_before, best_beta = 1.0;
  Eigen::VectorXd best_e, best_gv, last_e, last_gv;  // log(beta G / T) and G' (bound report)
  int iterations = 0, no_progress = 0;
  std::string stop = error_before < params.tolerance ? "converged" : "max_refactorizations";
  std::deque<Eigen::VectorXd> d_iter, d_res;  // Anderson history: differences of log q, residuals
  Eigen::VectorXd q_prev, res_prev;
  while (stop != "converged" && solver.factorizations() < params.max_refactorizations) {
    double beta = 1.0;
    const Eigen::MatrixXd g_prog = programme(log_q, beta);
    StatusOr<Eigen::MatrixXd> t = solver.transfer(g_prog);
    if (!t.is_ok()) return t.status();
    ++iterations;
    const Eigen::VectorXd tv = cells(t.value(), true);
    const Eigen::VectorXd gv = cells(g_prog, false);
    // The error with the gain 1/beta, or with the least-squares scalar gain when that is lower
    // (beta is a digital knob chosen after the measured T; it stays <= 1).
    double err = (tv / beta - g_target).norm() / g_norm;
    double err_beta = beta;
    if (params.target_scaling) {
      const double fit = std::min(1.0, tv.squaredNorm() / tv.dot(g_target));
      const double err_fit = (tv / fit - g_target).norm() / g_norm;
      if (err_fit < err) err = err_fit, err_beta = fit;
    }
    // What each cell still needs, in log: the model input q moves by it (the model, not the
    // cell, absorbs the attenuation and the coupling through the shared lines).
    const Eigen::VectorXd e = (beta * g_target.array() / tv.array()).log().matrix();
    last_e = e;
    last_gv = gv;
    no_progress = err < best_err * 0.99 ? 0 : no_progress + 1;
    if (err < best_err) {
      best_err = err, best_g = g_prog, best_beta = err_beta, best_e = e, best_gv = gv;
    }
    if (err < params.tolerance) {
      stop = "converged";
      break;
    }
    if (no_progress >= 2) {
      stop = "stalled";
      break;
    }
    if (solver.factorizations() >= params.max_refactorizations) break;
    // Projected residual: a cell on a bound that asks to go beyond it stays put.
    Eigen::VectorXd res = e;
    for (Index k = 0; k < n; ++k)
      if ((gv(k) <= p.g_min && e(k) < 0.0) || (gv(k) >= p.g_max && e(k) > 0.0)) res(k) = 0.0;
    Eigen::VectorXd next = log_q + res;
    if (params.anderson_depth > 0 && q_prev.size() == n) {
      d_iter.push_back(log_q - q_prev);
      d_res.push_back(res - res_prev);
      while (static_cast<int>(d_iter.size()) > params.anderson_depth) {
        d_iter.pop_front();
        d_res.pop_front();
      }
      const Index m = static_cast<Index>(d_iter.size());
      Eigen::MatrixXd dr(n, m), dq(n, m);
      for (Index k = 0; k < m; ++k) {
        dr.col(k) = d_res[static_cast<std::size_t>(k)];
        dq.col(k) = d_iter[static_cast<std::size_t>(k)];
      }
      const Eigen::VectorXd gamma = dr.colPivHouseholderQr().solve(res);
      next = log_q + res - (dq + dr) * gamma;
    }
    q_prev = log_q;
    res_prev = res;
    log_q = next;
  }

  TileCorrection out{best_g, gain_for_beta(p, best_beta), unit_scale(p), {}};
  CorrectionReport& rep = out.report;
  rep.scheme = std::string(to_string(Scheme::kExactCompensation));
  rep.error_before = error_before;
  rep.error_after = best_err;
  rep.beta = best_beta;
  rep.iterations = iterations;
  rep.factorizations = solver.factorizations();
  // Binding cells: on a bound while the measured read asks to go beyond it (of the best iterate,
  // or of the last one when none beat the uncorrected tile).
  if (best_e.size() != n) best_e = last_e, best_gv = last_gv;
  for (Index k = 0; k < best_e.size(); ++k) {
    if (best_gv(k) >= p.g_max && best_e(k) > 0.0) ++rep.cells_at_g_max;
    if (best_gv(k) <= p.g_min && best_e(k) < 0.0) ++rep.cells_at_g_min;
  }
  if (stop != "converged" && rep.cells_at_g_min + rep.cells_at_g_max > 0) stop = "bounds_bind";
  rep.stop_reason = stop;
  rep.reprogrammed_cells = count_changed(out.programmed, p.target);
  rep.seconds = seconds_since(t0);
  rep.assumes =
      "the circuit (uniform parasitics) and exact cell programming; matches beta G^T and "
      "relies on the digital gain 1/beta after the read";
  return out;
}

StatusOr<TileCorrection> correct_tile(const TileProblem& p, const CorrectionParams& params,
                                      const Eigen::MatrixXd* measured_t) {
  if (Status s = validate(p); !s.is_ok()) return s;
  if (Status s = validate(params); !s.is_ok()) return s;
  auto measured = [&]() -> StatusOr<Eigen::MatrixXd> {
    if (measured_t != nullptr) return *measured_t;
    StatusOr<TileSolver> solver = TileSolver::make(p);
    if (!solver.is_ok()) return solver.status();
    return solver.value().transfer(p.target);
  };
  switch (params.scheme) {
    case Scheme::kNone: {
      StatusOr<Eigen::MatrixXd> t = measured();
      if (!t.is_ok()) return t.status();
      TileCorrection out{p.target, unit_gain(p), unit_scale(p), {}};
      out.report.scheme = "none";
      out.report.error_before = relative_error(t.value(), out.column_gain, out.row_scale, p);
      out.report.error_after = out.report.error_before;
      out.report.stop_reason = "none";
      out.report.assumes = "nothing";
      return out;
    }
    case Scheme::kColumnGain: {
      StatusOr<Eigen::MatrixXd> t = measured();
      if (!t.is_ok()) return t.status();
      return column_gain(p, t.value(), params);
    }
    case Scheme::kInputScaling: {
      StatusOr<Eigen::MatrixXd> t = measured();
      if (!t.is_ok()) return t.status();
      return input_scaling(p, t.value(), params);
    }
    case Scheme::kPredistortion:
      return predistortion(p, params);
    case Scheme::kExactCompensation:
      return exact_compensation(p, params);
  }
  return Status::invalid_argument("scheme: unknown value");
}

}  // namespace xbarnet::corrections
