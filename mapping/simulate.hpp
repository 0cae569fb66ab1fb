// Layer-level simulation: map a layer onto unit crossbars, solve every tile with the exact
// circuit solver, digitise, and stitch the outputs back into the layer's activations, next to
// the ideal ones (same mapping, the target conductances on ideal arrays, an ideal ADC).
//
// simulate() runs the stages of mapping/stages.hpp in order: plan -> program (target and
// programmed conductances kept apart) -> respond (linear tile: its exact transfer matrix T,
// applied to every input vector of the batch as one matrix product) -> read out -> digitise ->
// merge -> stitch and metrics. Tiles run in parallel (OpenMP); their contributions are merged in
// tile order, so the result does not depend on the thread count.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "corrections/corrections.hpp"
#include "devices/adc.hpp"
#include "devices/device.hpp"
#include "devices/variation.hpp"
#include "mapping/layer.hpp"
#include "mapping/plan.hpp"
#include "mapping/stages.hpp"
#include "netlists/crossbar.hpp"
#include "solver/linear_solver.hpp"

namespace xbarnet::mapping {

using netlists::Parasitics;

struct SimulationOptions {
  MappingOptions mapping;
  devices::DeviceParams device;
  devices::VariationParams variation;  // device-to-device variation, defects, read noise
  devices::AdcParams adc;              // the ADC's range and energy (its bits: device.adc_bits)
  corrections::CorrectionParams correction;  // the parasitic-resistance correction of every tile
  Parasitics parasitics;
  solver::Backend backend = solver::Backend::kCholmod;
  int threads = 1;      // OpenMP threads over tiles, capped at the hardware's (core/threads.hpp)
  bool ir_drop = true;  // solve each tile once more for its IR-drop map
  bool ideal_only = false;    // skip the circuit: ideal crossbars (T = G^T), for timing baselines
  double memory_limit = 0.0;  // B; 0 = half of the machine's physical memory
};

struct TileReport {
  TileSpec spec;
  // Used cells: the tile's rows [0, nk) x its used columns (mapping/stages.hpp, used_columns).
  double worst_ir_drop = 0.0;  // largest (V_i - voltage across the cell) / v_read, used cells
  double mean_ir_drop = 0.0;   // mean of the same over the used cells
  double current_error = 0.0;  // RMS(I - I_ideal) / RMS(I_ideal) over used columns and inputs
  TileHealth health;           // the solver's residual and T against a direct solve
  corrections::CorrectionReport correction;  // the tile's correction (scheme "none": nothing)
  double seconds = 0.0;
};

// The tiles' corrections, summed up (corrections/corrections.hpp for each figure).
struct CorrectionSummary {
  std::string scheme = "none";
  std::string assumes;  // what the scheme assumes it knows
  // The tiles' relative errors of diag(gain) T diag(scale) against the target (their mean and
  // worst), before and after the correction.
  double error_before_mean = 0.0, error_before_worst = 0.0;
  double error_after_mean = 0.0, error_after_worst = 0.0;
  double beta_min = 1.0;  // the smallest target scale matched (digital gain 1 / beta)
  int iterations_max = 0;
  std::int64_t factorizations = 0;
  std::vector<std::pair<std::string, int>> stop_reasons;  // why each tile stopped: counts
  std::int64_t cells_at_g_min = 0, cells_at_g_max = 0, rows_at_headroom = 0;
  std::int64_t calibration_reads = 0, extra_columns = 0, reprogrammed_cells = 0;
  double seconds = 0.0;        // the schemes themselves, summed over tiles
  double check_seconds = 0.0;  // solves that only measured their errors
};

struct PhaseSeconds {
  double map = 0.0;      // lowering, tiling, lowered weights
  double program = 0.0;  // conductances
  double circuit = 0.0;  // transfer matrices (and IR-drop solves), summed over tiles
  double apply = 0.0;    // I = V T^T and the ideal I = V G, summed over tiles
  double stitch = 0.0;   // ADC, merge, bias, activation, scatter
  double total = 0.0;    // wall time
};

struct LayerReport {
  Plan plan;
  std::string programming;  // the Programmer's name
  std::string response;     // the ResponseModel's name
  std::string backend;      // the linear solver
  std::string ordering;     // the fill-reducing ordering of every tile's system
  // Symbolic analyses of the tiles' systems: one per tile layout (size and parasitics), shared
  // by every tile of that layout (LinearCircuitResponse); 0 without a circuit.
  int analyses = 0;
  // Health over the tiles: the worst relative residual of a tile's direct solve, and the worst
  // max |I(v) - T v| / max |I(v)| (-1 when no tile was solved as a circuit).
  double worst_residual = 0.0;
  double worst_transfer_check = -1.0;
  std::int64_t tiny_shorts = 0;  // resistances merged as shorts (solver::kShortRatio), all tiles
  // Errors of the simulated layer outputs against the ideal ones (same mapping, ideal arrays,
  // ideal ADC; equal to the floating-point layer with the quantized weights and inputs).
  double rmse = 0.0;
  double relative_rmse = 0.0;  // rmse / ideal_rms (0 when the ideal is all zero)
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // max |error| / max |ideal|
  double ideal_rms = 0.0;
  // The same on the pre-activation (multiply-accumulate) values.
  double mac_rmse = 0.0;
  double mac_max_rel_error = 0.0;
  // By physical array column j: RMS(I - I_ideal) / RMS(I_ideal) over the tiles that use column j
  // and all inputs (errors and references pooled: sqrt(sum e^2 / sum ref^2)).
  std::vector<double> error_by_column;
  // By physical array row i: mean over the tiles that use row i of the fraction of row i's ideal
  // current that does not reach the neurons, 1 - sum_j T(j,i) / sum_j G(i,j) (exact, input
  // independent; G the programmed conductances of the whole row, so that only the parasitics
  // count, not a programming error).
  std::vector<double> loss_by_row;
  std::vector<TileReport> tiles;
  bool ir_drop_mapped = false;          // the IR-drop figures below were computed (ir_drop)
  std::int64_t worst_tile = -1;         // by worst IR drop
  Eigen::MatrixXd worst_ir_drop;        // R x C [V] of the worst tile (input: used rows at v_read)
  double worst_ir_drop_fraction = 0.0;  // max over tiles of the tile's worst
  double mean_ir_drop_fraction = 0.0;   // mean over tiles of the tile's mean
  std::int64_t adc_conversions = 0;     // column outputs digitised, per batch (every read)
  std::int64_t adc_clipped = 0;         // of those, outside the ADC's range
  std::int64_t adc_nonzero = 0;         // of those, not exactly 0 A (a read of all-zero rows)
  double adc_full_scale_min = 0.0;      // A: the ADC range of the tiles (from adc.range)
  double adc_full_scale_max = 0.0;
  double adc_energy = 0.0;          // J per batch: conversions x devices::conversion_energy
  bool calibrated = false;          // input and ADC ranges from a calibration batch
  std::int64_t inputs_clipped = 0;  // input values beyond the calibration's largest |x|
  devices::ProgrammingStats programming_stats;  // summed over the tiles
  CorrectionSummary correction;
  // Reference-column scheme: the IR drop across the reference column's used cells (worst over
  // tiles, fraction of v_read, with every used row at v_read) and its current error
  // RMS(I_ref - I_ref,ideal) / RMS(I_ref,ideal); -1 for differential pairs.
  double reference_worst_ir_drop = -1.0;
  double reference_current_error = -1.0;
  int adc_bits = 0;                // of those conversions (0 = ideal)
  std::int64_t input_vectors = 0;  // per tile
  PhaseSeconds seconds;
  int threads = 1;     // threads used: options.threads capped at the hardware's
  double w_max = 0.0;  // largest |weight|
  double x_max = 0.0;  // largest |input|
};

struct SimulationResult {
  Tensor simulated;
  Tensor ideal;
  LayerReport report;
};

// The declared simulation parameters ([simulation] of a layer config): backend, threads, ir_drop.
const core::ParameterTable<SimulationOptions>& simulation_parameters();

// Every table: mapping, device, parasitics (finite here: a layer's arrays have no open
// elements), simulation.
Status validate(const SimulationOptions& o);

// The stages that can be swapped; nullptr: exact programming, and the linear circuit response
// (or the ideal one with options.ideal_only).
struct Stages {
  const Programmer* programmer = nullptr;
  const ResponseModel* response = nullptr;
};

// Bytes a layer run needs, from its plan, its batch and its thread count (before anything is
// allocated): the lowered weights, the accumulators and output tensors, and per tile solved at
// once its circuit system (solver::estimate_system_bytes), the system of a programming-side
// correction, and its batch matrices (the calibration batch's too).
double estimate_simulation_bytes(const Plan& plan, std::int64_t batch, std::int64_t out_per_sample,
                                 int threads, bool ideal_only, bool correction_system = false,
                                 std::int64_t calibration_vectors = 0);

// `calibration` (may be null): a batch of the layer's inputs (same shape but the batch size)
// that fixes the input scale (its largest |x| is the DAC's full scale; larger inputs of `input`
// are clipped and counted) and, for adc.range 'calibrated' and 'percentile', the ADC's range
// (from the read-outs the tile produces for it). Without one, the input scale is the batch's own
// largest |x|, and those two ADC ranges are refused.
StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options, const Stages& stages = {},
                                    const Tensor* calibration = nullptr);

// ------------------------------------------------------------ a layer set up once, run often

// One tile as programmed and solved: all that a batch needs from it.
struct PreparedTile {
  TileReport report;                       // spec, IR drop, health, correction, setup seconds
  std::vector<Eigen::Index> used;          // used_columns()
  std::unique_ptr<TileResponse> response;  // the tile's response (its solver system released)
  Eigen::MatrixXd target_used;      // nk x used [S]: the target conductances (the ideal reads)
  Eigen::MatrixXd noise_coupling;   // nk x used [S]: what the read noise sees; empty without it
  ReadSide side;                    // the read side's corrections
  double full_scale = 0.0;          // A: the ADC's range (0: an ideal ADC)
  devices::ProgrammingStats stats;  // what programming did
  Eigen::VectorXd row_loss;         // R: the row's lost current share, NaN for unused rows
  double reference_drop = -1.0;     // worst IR drop on the reference column / v_read
  double program_s = 0.0, circuit_s = 0.0;
};

// A layer programmed onto its arrays once, ready for any number of batches: the per-tile work of
// simulate() that does not depend on the evaluated batch (plan, program, respond, correct, the
// ADC's range from the calibration batch) done once and kept, so that a batch only reads
// (voltages, reads, ADC, merge, stitch). Networks (networks/) hold one per weighted layer.
struct PreparedLayer {
  Layer layer;
  SimulationOptions options;
  double w_max = 0.0;  // the weight map's scale (largest |weight|)
  double x_max = 0.0;  // the input map's scale (largest |x| of the calibration batch)
  bool signed_inputs = false;
  bool ideal_and_exact = false;  // ideal arrays read exactly: the reads are the ideal ones
  std::vector<double> bias;      // per lowered output
  std::vector<PreparedTile> tiles;
  // The setup's part of the report: plan, stages, tiles, IR drop, corrections, health,
  // programming, ADC ranges, seconds (map, program, circuit); nothing of a batch.
  LayerReport report;
  double setup_seconds = 0.0;  // wall time of the setup
};

// Bytes a prepared layer keeps for its batches (every tile's response and read data).
double prepared_layer_bytes(const Plan& plan);

// Refuses an ADC (options.device.adc_bits > 0) that clipped every one of its non-zero read-outs:
// its range (full scale `full_scale_min` .. `full_scale_max` A over the tiles) does not cover
// the outputs at all. simulate() checks its batch; a network its calibration batch.
Status check_adc_covers(const SimulationOptions& options, std::int64_t clipped,
                        std::int64_t nonzero, double full_scale_min, double full_scale_max);

// Sets a layer up on its arrays; `calibration` (a batch of the layer's inputs) fixes the input
// scale (its largest |x|) and, for adc.range 'calibrated' / 'percentile', the ADC's range.
// `on_tiles` (may be empty) is told the tiles set up so far, on the calling thread.
StatusOr<PreparedLayer> prepare_layer(const Layer& layer, const SimulationOptions& options,
                                      const Tensor& calibration, const Stages& stages = {},
                                      const std::function<void(std::int64_t)>& on_tiles = {});

struct LayerRun {
  Tensor simulated;
  Tensor ideal;  // with_ideal: the same mapping on ideal arrays, an ideal ADC (target conductances)
  std::int64_t adc_conversions = 0, adc_clipped = 0, adc_nonzero = 0;
  std::int64_t inputs_clipped = 0;  // input values beyond the calibration's range
  double seconds = 0.0;
};

// One batch through a prepared layer. `first_sample`: the index of the batch's first sample in
// the whole data set, so that read noise draws per sample, not per place in the batch (an
// output does not depend on the batch it is in).
StatusOr<LayerRun> run_layer(const PreparedLayer& prepared, const Tensor& input,
                             bool with_ideal = false, std::int64_t first_sample = 0);

// The programmed circuit of one tile and the word-line voltages of one input vector, as the
// simulation builds them (for SPICE export and inspection).
struct TileCircuit {
  netlists::Crossbar xbar;
  Eigen::MatrixXd inputs;  // 1 x R [V]
  TileSpec spec;
};
StatusOr<TileCircuit> tile_circuit(const Layer& layer, const Tensor& input,
                                   const SimulationOptions& options, std::int64_t tile,
                                   std::int64_t vector, const Tensor* calibration = nullptr);

}  // namespace xbarnet::mapping
