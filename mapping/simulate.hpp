// Layer-level simulation: map a layer onto unit crossbars, solve every tile with the exact
// circuit solver, digitise, and stitch the outputs back into the layer's activations.
//
// Per tile: the R x C array is programmed (used rows and columns from the weights, every other
// cell at G_min, unused rows driven at 0 V), its exact transfer matrix T (I = T V) is computed
// once by the Schur complement, and applied to every input vector of the batch as one matrix
// product. Column currents -> differential subtraction (I+ - I-, or I_j - I_ref) -> ADC ->
// partial sums (or split-group merge) in weight units -> bias -> activation -> output tensor.
// Tiles run in parallel (OpenMP); their contributions are added in tile order, so the result
// does not depend on the thread count.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/device.hpp"
#include "mapping/layer.hpp"
#include "mapping/plan.hpp"
#include "netlists/crossbar.hpp"
#include "solver/linear_solver.hpp"

namespace xbarnet::mapping {

// Uniform parasitic resistances of every unit array [ohm].
struct Parasitics {
  double r_source = 0.0;
  double r_wordline = 0.0;
  double r_bitline = 0.0;
  double r_neuron = 0.0;
};

struct SimulationOptions {
  MappingOptions mapping;
  devices::DeviceParams device;
  Parasitics parasitics;
  solver::Backend backend = solver::Backend::kCholmod;
  int threads = 1;
  bool ir_drop = true;      // solve each tile once more for its IR-drop map
  bool ideal_only = false;  // skip the circuit: ideal crossbars (T = G^T), for timing baselines
};

struct TileReport {
  TileSpec spec;
  double worst_ir_drop = 0.0;  // largest (V_i - voltage across the cell) / v_read, used cells
  double mean_ir_drop = 0.0;   // mean of the same over the used cells
  double current_error = 0.0;  // RMS(I - I_ideal) / RMS(I_ideal) over used columns and inputs
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
  // Errors of the simulated layer outputs against the ideal ones (same mapping, ideal arrays,
  // ideal ADC; equal to the floating-point layer with the quantized weights and inputs).
  double rmse = 0.0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // max |error| / max |ideal|
  double ideal_rms = 0.0;
  // The same on the pre-activation (multiply-accumulate) values.
  double mac_rmse = 0.0;
  double mac_max_rel_error = 0.0;
  // By physical array column j: RMS(I - I_ideal) / RMS(I_ideal) over all tiles and inputs.
  std::vector<double> error_by_column;
  // By physical array row i: mean over tiles of the fraction of row i's ideal current that does
  // not reach the neurons, 1 - sum_j T(j,i) / sum_j G(i,j) (exact, input independent).
  std::vector<double> loss_by_row;
  std::vector<TileReport> tiles;
  std::int64_t worst_tile = -1;   // by worst IR drop
  Eigen::MatrixXd worst_ir_drop;  // R x C [V] of the worst tile (input: used rows at v_read)
  double worst_ir_drop_fraction = 0.0;
  double mean_ir_drop_fraction = 0.0;
  std::int64_t adc_conversions = 0;  // column outputs digitised, per batch
  std::int64_t input_vectors = 0;    // per tile
  PhaseSeconds seconds;
  double w_max = 0.0;  // largest |weight|
  double x_max = 0.0;  // largest |input|
};

struct SimulationResult {
  Tensor simulated;
  Tensor ideal;
  LayerReport report;
};

Status validate(const SimulationOptions& o);

StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options);

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
