// Parasitic-resistance (IR-drop) correction schemes on one unit crossbar tile (DESIGN.md,
// "corrections/"). SI units throughout.
//
// The tile: R x C cells G (R x C [S]), uniform parasitics (netlists::Parasitics: driver R_s,
// word-line segment r_w, bit-line segment r_b, neuron R_n). Rows 0 .. nk-1 are driven and the
// columns in `used_cols` are read; every other cell holds G_min and is never changed. The column
// currents are I = T(G) v exactly, T (C x R [S]) the tile's transfer matrix; the ideal is
// T_ideal = G_target^T. A correction returns what to program and two digital/analog knobs:
//
//   I_corrected = diag(column_gain) T(programmed) diag(row_scale) v
//
// and is judged by the relative error over the used rows x used columns (Frobenius norm):
//
//   error = || diag(g) T(G') diag(s) - G_target^T ||_F / || G_target^T ||_F
//
// Schemes (Scheme; CorrectionParams::scheme):
//   kNone               program the target; error_before = error_after.
//   kColumnGain         read side, from a measured T (may include device variation): one
//                       calibration read with all used rows at v_read (or a given K x R batch X):
//                       g_j = <Y_j, M_j> / <M_j, M_j>, Y = X G (ideal), M = X T^T (measured);
//                       for the full-scale read, g_j = sum_i G_ij / sum_i T_ji. Reads: K.
//   kPredistortion      write side, no circuit solve (after Truong et al., Materials 2019,
//                       12:4097): program 1/G'_ij = 1/(beta G_ij) - R_eq,ij, clipped to
//                       [G_min, G_max], R_eq the equivalent series parasitic resistance of the
//                       superposition model below (word-line loading, bit-line leakage, own
//                       path). error_before/after are checked with the exact solver
//                       (check_seconds, not part of the scheme's cost).
//   kExactCompensation  write side, the circuit solver in the loop: one CrossbarSystem
//                       (transfer mode) assembled and analyzed once, then per iteration
//                       set_conductances + factorize + transfer_matrix. The pre-distortion
//                       model is the preconditioner: iteration k programs G'_k = the model's G'
//                       for the wanted currents beta_k q_k (clipped), with beta_k the model's
//                       beta for q_k (as kPredistortion, the bisection below), and corrects the
//                       model's input by what each cell still lacks,
//                         log q_ij <- log q_ij + log(beta_k G_ij / T_ji)
//                       (q_0 = G: the first iterate is kPredistortion's). The model absorbs the
//                       attenuation and the coupling through the shared lines, so only the
//                       model's error is left to iterate on; beta follows the corrected q, so
//                       no cell is held on G_max by a stale beta. Anderson-accelerated (depth
//                       anderson_depth); a cell on a bound that asks to go beyond it is held.
//                       The uncorrected tile is solved first (error_before; counted in
//                       factorizations) and stays the fallback: the result is the best iterate,
//                       never worse than the target. The error of an iterate uses the gain
//                       1/beta_k or the least-squares scalar gain of its measured T (<= 1 as
//                       beta), whichever is lower; no check solve is needed (error_after is the
//                       exact error of the returned iterate).
//   kInputScaling       read side, from a measured T: one voltage factor per driven row,
//                       s_i = clamp(sum_j G_ij / sum_j T_ji, 1, driver_headroom) over used
//                       columns (the row's loss; the driver can output up to headroom * v_read).
//                       Reads: nk (each row driven alone, all columns read at once).
//
// beta (target_scaling): cells mapped near G_max cannot go higher, so matching G^T itself is
// often infeasible. With target_scaling = true (default) the write-side schemes match beta G^T,
// one scalar beta <= 1 per tile: 1 when the model fits the bounds at 1, else beta_margin x the
// largest beta whose model G' fits under G_max (bisection); cells that then want less than
// G_min sit on G_min (reported as binding). column_gain = 1/beta is the known digital gain after
// the read (it amplifies ADC error and noise by 1/beta). With false, beta = 1 and the cells that
// cannot follow sit on their bound (reported).
//
// The pre-distortion model (superposition of first-order drops, row i driven alone, at the
// compensated state where each cell carries c_il = beta G_il (1 + L_il)):
//   word line  d_ij = sum_l (R_s + r_w min(l, j)) c_il          (shared path to the driver)
//   bit line   L_ij = sum_{k != i} (R_n + r_b (R-1-max(k,i))) G'_kj   (leak to other rows)
//   cell       G'_ij = c_ij / (1 - d_ij - c_ij (R_n + r_b (R-1-i)))    (own series path)
// evaluated in 3 sweeps from G' = beta G; no G' > 0 exists where the denominator is <= 0.
//
// Usage, per tile (what the layer pipeline calls):
//   TileProblem p{target, nk, used_cols, g_min, g_max, parasitics, backend};
//   auto c = correct_tile(p, params, measured_t_or_nullptr);
//   // program c->programmed, scale inputs by c->row_scale, multiply outputs by c->column_gain.
// The read-side schemes take T of the array as programmed (with the target), as a chip would
// measure it; when none is given it is solved from the parasitics (no device variation).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/parameter.hpp"
#include "core/status.hpp"
#include "netlists/crossbar.hpp"
#include "solver/linear_solver.hpp"

namespace xbarnet::corrections {

using Index = Eigen::Index;

enum class Scheme { kNone, kColumnGain, kPredistortion, kExactCompensation, kInputScaling };

inline constexpr std::array kAllSchemes{Scheme::kNone, Scheme::kColumnGain, Scheme::kPredistortion,
                                        Scheme::kExactCompensation, Scheme::kInputScaling};

// Where a scheme acts: on the programming side, before the devices, from the target and the
// nominal circuit (predistortion, exact compensation), or on the read side, from the measured T
// of the array as programmed (column gain, input scaling).
enum class Side { kNone, kProgramming, kRead };
Side side_of(Scheme s);

// "none", "column_gain", "predistortion", "exact_compensation", "input_scaling".
std::string_view to_string(Scheme s);
StatusOr<Scheme> parse_scheme(std::string_view text);

struct CorrectionParams {
  Scheme scheme = Scheme::kNone;
  int max_refactorizations = 10;  // exact compensation: factorizations in all (the reference
                                  // solve of the uncorrected tile included)
  double tolerance = 1e-3;        // exact compensation: stop below this relative error
  double driver_headroom = 1.25;  // input scaling: s_i <= headroom (driver range / v_read)
  bool target_scaling = true;     // write-side schemes: match beta G^T with beta <= 1
  double beta_margin = 0.98;      // beta = margin x the largest beta that fits the bounds
  int anderson_depth = 3;         // exact compensation: Anderson memory (0 = plain fixed point)
  // V, the calibration read voltage (currents reported in A); not a config key: a layer's
  // runs use its device's v_read.
  double v_read = 0.2;
};

// The [correction] table: scheme, max_refactorizations, tolerance, driver_headroom,
// target_scaling, beta_margin, anderson_depth.
const core::ParameterTable<CorrectionParams>& correction_parameters();
Status validate(const CorrectionParams& p);

// One tile to correct.
struct TileProblem {
  Eigen::MatrixXd target;        // R x C [S]: the target conductances (G_min outside the used part)
  Index used_rows = 0;           // nk: rows 0 .. nk-1 are driven
  std::vector<Index> used_cols;  // the columns read (ascending, distinct)
  double g_min = 1e-5;           // S
  double g_max = 1e-4;           // S
  netlists::Parasitics parasitics;
  solver::Backend backend = solver::Backend::kCholmod;
};
Status validate(const TileProblem& p);

struct CorrectionReport {
  std::string scheme;
  // The error metric of the header comment, before (programmed = target, no knobs) and after.
  double error_before = 0.0;
  double error_after = 0.0;
  double beta = 1.0;        // the target scale matched (write-side schemes); gain 1/beta
  int iterations = 0;       // exact compensation: updates of G'
  int factorizations = 0;   // numeric factorizations this scheme ran (checking excluded)
  std::string stop_reason;  // "converged", "max_refactorizations", "stalled", "bounds_bind",
                            // "closed_form", "calibrated"
  std::int64_t cells_at_g_min = 0;      // used cells whose programmed value sits on a bound and
  std::int64_t cells_at_g_max = 0;      // that bound binds (the cell wanted to go beyond it)
  std::int64_t rows_at_headroom = 0;    // input scaling: rows whose factor was clipped
  std::int64_t calibration_reads = 0;   // input vectors read (all columns at once per read)
  std::int64_t extra_columns = 0;       // columns added to the array (none of these schemes)
  std::int64_t reprogrammed_cells = 0;  // cells programmed away from the target
  double seconds = 0.0;                 // the scheme itself
  double check_seconds = 0.0;           // solves that only measure error_before / error_after
  std::string assumes;                  // what the scheme assumes it knows, one line
};

struct TileCorrection {
  Eigen::MatrixXd programmed;   // R x C [S]: what to program (the target for read-side schemes)
  Eigen::VectorXd column_gain;  // C: multiplies each column current after the read
  Eigen::VectorXd row_scale;    // R: multiplies each row's input voltage
  CorrectionReport report;
};

// The error metric of the header comment: programmed-tile transfer matrix t (C x R), the knobs,
// and the target. Checks shapes (programmer errors are asserted).
double relative_error(const Eigen::MatrixXd& t, const Eigen::VectorXd& column_gain,
                      const Eigen::VectorXd& row_scale, const TileProblem& p);

// The model's equivalent series resistance R_eq = 1/(beta G) - 1/G' (R x C [ohm]; +inf outside
// the used part and where no G' > 0 reaches beta G) of kPredistortion.
Eigen::MatrixXd equivalent_series_resistance(const TileProblem& p, double beta);

// The schemes. `measured_t` (C x R [S]): T of the array as programmed with the target.
// `calibration_inputs` (K x R [V]; empty = one full-scale read, used rows at v_read).
StatusOr<TileCorrection> column_gain(const TileProblem& p, const Eigen::MatrixXd& measured_t,
                                     const CorrectionParams& params,
                                     const Eigen::MatrixXd& calibration_inputs = {});
StatusOr<TileCorrection> input_scaling(const TileProblem& p, const Eigen::MatrixXd& measured_t,
                                       const CorrectionParams& params);
StatusOr<TileCorrection> predistortion(const TileProblem& p, const CorrectionParams& params);
StatusOr<TileCorrection> exact_compensation(const TileProblem& p, const CorrectionParams& params);

// Dispatches on params.scheme. `measured_t` may be null (then solved from the parasitics).
StatusOr<TileCorrection> correct_tile(const TileProblem& p, const CorrectionParams& params,
                                      const Eigen::MatrixXd* measured_t = nullptr);

}  // namespace xbarnet::corrections
