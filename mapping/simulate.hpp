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
#include <string>
#include <vector>

#include "devices/device.hpp"
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
  double seconds = 0.0;
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
  std::int64_t adc_conversions = 0;     // column outputs digitised, per batch
  int adc_bits = 0;                     // of those conversions (0 = ideal)
  std::int64_t input_vectors = 0;       // per tile
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
// once its circuit system (solver::estimate_system_bytes) and its batch matrices.
double estimate_simulation_bytes(const Plan& plan, std::int64_t batch, std::int64_t out_per_sample,
                                 int threads, bool ideal_only);

StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options, const Stages& stages = {});

// The programmed circuit of one tile and the word-line voltages of one input vector, as the
// simulation builds them (for SPICE export and inspection).
struct TileCircuit {
  netlists::Crossbar xbar;
  Eigen::MatrixXd inputs;  // 1 x R [V]
  TileSpec spec;
};
StatusOr<TileCircuit> tile_circuit(const Layer& layer, const Tensor& input,
                                   const SimulationOptions& options, std::int64_t tile,
                                   std::int64_t vector);

}  // namespace xbarnet::mapping
