// The stages of a layer simulation. simulate() (mapping/simulate.hpp) reads as them, in order:
//
//   plan       mapping/plan.hpp: the lowering of the layer and its tiles.
//   program    target_conductances(): what the weights ask of each tile's R x C cells; then a
//              Programmer turns the target into what the array holds (today: exactly the target;
//              corrections, variation and defects act here). The ideal reference only ever sees
//              the target, never a correction, a variation or a defect.
//   respond    a ResponseModel prepares each programmed tile's response to input voltages: linear
//              tiles by their exact transfer matrix T (one factorization of a reusable
//              solver::CrossbarSystem), ideal tiles by G^T; a nonlinear tile (Newton) plugs in
//              here. It also solves the IR-drop operating point and records the tile's health.
//   read out   read_out(): column currents -> one value per output (I+ - I-, or I_j - I_ref).
//   digitise   Adc: the per-column ADC, down to a 1-bit sense amplifier.
//   merge      merge_tile(): partial sums added (or split groups merged) in tile order.
//   stitch     stitch(): bias, activation, each output to its place in the tensor; metrics.
//
// Every stage here is a plain function or a small interface with no hidden state, so the
// corrections, networks and Python layers can reuse or replace one stage without copying the
// others.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "devices/device.hpp"
#include "devices/variation.hpp"
#include "mapping/layer.hpp"
#include "mapping/plan.hpp"
#include "netlists/crossbar.hpp"
#include "solver/crossbar_system.hpp"

namespace xbarnet::mapping {

// What a stage may know about the tile it works on.
struct TileContext {
  const Plan& plan;
  const TileSpec& spec;
  std::int64_t index;  // tile index in the plan
  const netlists::Parasitics& parasitics;
  const devices::DeviceParams& device;
  const devices::WeightMap& weights;
};

// ------------------------------------------------------------------------------------ program

struct TileConductances {
  Eigen::MatrixXd target;  // R x C [S]: what the weights ask for (the ideal reference)
  // R x C [S]: what the programming-side correction asks the array to hold (pre-distortion,
  // exact compensation); the target itself without one.
  Eigen::MatrixXd intended;
  Eigen::MatrixXd programmed;  // R x C [S]: what the array holds (what the circuit is solved with)
  devices::ProgrammingStats stats;  // what programming did (stuck cells, verify pulses)
};

// The R x C target conductances of a tile: the mapped weights in the used rows and columns, G_min
// everywhere else (and G_ref in the reference column of the used rows).
Eigen::MatrixXd target_conductances(const Plan& plan, const LoweredWeights& lw,
                                    const devices::WeightMap& map, const TileSpec& t);

class Programmer {
 public:
  virtual ~Programmer() = default;
  virtual std::string_view name() const = 0;
  // Sets g.programmed (and g.stats) from g.intended (g.target and g.intended are never
  // changed). Called from several threads at once, on different tiles.
  virtual Status program(const TileContext& tile, TileConductances& g) const = 0;
};

// The array holds exactly what it is asked to.
class ExactProgramming final : public Programmer {
 public:
  std::string_view name() const override { return "exact"; }
  Status program(const TileContext& tile, TileConductances& g) const override;
};

// Real devices (devices/variation.hpp): device-to-device variation, write-verify, stuck cells.
// Tile t's cells are drawn from (seed, t): the same whatever the thread count.
class DeviceProgramming final : public Programmer {
 public:
  explicit DeviceProgramming(const devices::VariationParams& variation) : variation_(variation) {}
  std::string_view name() const override { return "devices (variation, defects)"; }
  Status program(const TileContext& tile, TileConductances& g) const override;

 private:
  devices::VariationParams variation_;
};

// ------------------------------------------------------------------------------------ respond

// How well a tile was solved: the solver's own account.
struct TileHealth {
  std::string method;     // e.g. "supernodal, given (nested dissection) ordering; Schur ..."
  double residual = 0.0;  // relative residual of the tile's direct solve (0: no circuit)
  // max |I(v) - T v| / max |I(v)| for the input of the direct solve (the IR-drop input, or a
  // pseudo-random one when no IR-drop map is asked for); -1 when there is no circuit.
  double transfer_check = -1.0;
  // Resistances merged as exact shorts because they are too small to tell from one
  // (solver::kShortRatio).
  std::int64_t tiny_shorts = 0;
};

class TileResponse {
 public:
  virtual ~TileResponse() = default;
  // Column currents [A] of the given array columns (K x columns.size(), in that order) for K
  // input vectors whose first n rows are driven by `voltages` (K x n [V]) and the others at 0 V.
  virtual Eigen::MatrixXd currents(const Eigen::MatrixXd& voltages,
                                   const std::vector<Eigen::Index>& columns) const = 0;
  // The transfer matrix T (C x R [S]) of a linear tile, nullptr otherwise.
  virtual const Eigen::MatrixXd* transfer() const = 0;
  // One input vector (1 x R [V]) solved as a circuit, node voltages included, for the IR-drop
  // map; it is also the tile's health check (currents() against the solve).
  virtual StatusOr<solver::CrossbarSolution> operating_point(const Eigen::MatrixXd& voltage) = 0;
  virtual const TileHealth& health() const = 0;
  // Lets go of what only the setup needs (a linear tile's factorized system goes back to its
  // pool): currents() and transfer() keep working, operating_point() may be refused after it.
  virtual void release() {}
};

class ResponseModel {
 public:
  virtual ~ResponseModel() = default;
  virtual std::string_view name() const = 0;
  // `ir_map`: an operating_point() will follow (so the response need not check itself).
  virtual StatusOr<std::unique_ptr<TileResponse>> prepare(const netlists::Crossbar& circuit,
                                                          const TileContext& tile,
                                                          bool ir_map) const = 0;
  // Optional: whatever the tiles of this circuit's layout (size and parasitics) share, made
  // now, so that prepare() of those tiles does not wait for it (thread-safe; the default does
  // nothing).
  virtual Status prepare_layout(const netlists::Crossbar& /*circuit*/) const {
    return Status::ok();
  }
};

// Linear cells: the exact transfer matrix of the tile's circuit, by the Schur complement of one
// factorization (CHOLMOD, dense) or R solves (KLU), on a reusable solver::CrossbarSystem.
//
// Tiles of one shape and parasitic layout share one assembled pattern and one symbolic analysis:
// the first tile of a layout is assembled and analyzed (once, whatever the thread count), every
// other tile re-stamps its cells into a clone of it, and a tile done returns its system to a
// pool for the next one. A tile whose cells would change which resistances are merged as shorts
// (solver::kShortRatio) is assembled anew. Safe to call prepare() from several threads.
class LinearCircuitResponse final : public ResponseModel {
 public:
  explicit LinearCircuitResponse(solver::Backend backend);
  ~LinearCircuitResponse() override;
  LinearCircuitResponse(const LinearCircuitResponse&) = delete;
  LinearCircuitResponse& operator=(const LinearCircuitResponse&) = delete;
  std::string_view name() const override { return "linear circuit (transfer matrix)"; }
  StatusOr<std::unique_ptr<TileResponse>> prepare(const netlists::Crossbar& circuit,
                                                  const TileContext& tile,
                                                  bool ir_map) const override;
  // The layout's assembled and analyzed prototype.
  Status prepare_layout(const netlists::Crossbar& circuit) const override;
  // Symbolic analyses run so far: one per tile layout (plus one per tile assembled anew).
  int analyses() const;

  class Pool;  // the analyzed systems (stages.cpp)

 private:
  std::shared_ptr<Pool> pool_;  // shared with the tiles, which return their systems to it
};

// No circuit at all: T = G^T (ideal crossbars; the timing baseline of the benchmarks).
class IdealResponse final : public ResponseModel {
 public:
  std::string_view name() const override { return "ideal crossbar (T = G^T)"; }
  StatusOr<std::unique_ptr<TileResponse>> prepare(const netlists::Crossbar& circuit,
                                                  const TileContext& tile,
                                                  bool ir_map) const override;
};

// ----------------------------------------------------------------------------------- read out

// The array columns a tile uses, in this order: 0 .. 2nm-1 (output q on the pair 2q, 2q+1), or
// 0 .. nm-1 and then the reference column C-1.
std::vector<Eigen::Index> used_columns(const Plan& plan, const TileSpec& t);

// Currents of the used columns (K x used_columns().size(), in that order) -> one value per output
// of the tile (K x nm): I_2q - I_2q+1, or I_q - I_ref.
Eigen::MatrixXd read_out(const Eigen::MatrixXd& current, const Plan& plan, const TileSpec& t);

// ----------------------------------------------------------------------------------- digitise

// The per-column ADC of devices::adc (mid-rise, bits = 0 ideal, 1 a sense amplifier) over
// [-full_scale, full_scale] [A].
struct Adc {
  int bits = 0;
  // Digitises every read-out; returns how many lay outside the range (clipped; 0 when ideal).
  std::int64_t apply(Eigen::MatrixXd& read_out, double full_scale) const;
};

// ---------------------------------------------------------------------------------------- read

// What the read side adds to a tile's response: the input-side correction scales each row's
// voltage (at the driver), the column-gain correction each used column's current (an analog gain
// at the neuron, before the read-out's subtraction and the ADC), and a write-side correction's
// target scale beta is undone by a digital gain 1/beta after the ADC (so that it amplifies the
// read noise and the ADC's error, as it would on a chip).
struct ReadSide {
  Eigen::VectorXd row_scale;    // nk, or empty (all 1)
  Eigen::VectorXd column_gain;  // one per used column (used_columns() order), or empty (all 1)
  double digital_gain = 1.0;    // on the digitised read-outs
};

struct TileReads {
  Eigen::MatrixXd current;       // K x used columns [A]: what the reads add up to, before the ADC
  Eigen::MatrixXd y;             // K x nm [A]: the read-outs, digitised, shifted and added
  std::int64_t conversions = 0;  // ADC conversions (K x nm per read)
  std::int64_t clipped = 0;      // of those, outside the ADC's range
  std::int64_t nonzero = 0;      // of those, not exactly 0 A
};

// Reads K input vectors (K x nk word-line voltages, the DAC applied) through a tile as the chip
// does: analog inputs in one read per vector; bit-serial inputs (devices::InputEncoding) in one
// read per bit of the magnitude (bit p: v_read on the rows whose code has it, weight
// 2^p / (2^bits - 1)) and per sign, a vector in the passes of the signs its inputs have; every
// read is read out and digitised before the shift and add. `perturb` (may be empty) acts on each
// read's currents (K x used columns) given the word-line voltages of the read, e.g. read noise;
// its int argument numbers the read: 0 for analog inputs, p for bit p of the positive pass,
// bits + p for the negative pass (so a vector's reads do not depend on its batch). `read_outs`
// (may be null) receives every read-out before the ADC (an ADC range calibration).
using ReadPerturbation =
    std::function<void(Eigen::MatrixXd& current, const Eigen::MatrixXd& voltage, int read)>;
TileReads read_tile(const Plan& plan, const TileSpec& spec, const TileResponse& response,
                    const Eigen::MatrixXd& voltage, const ReadSide& side,
                    const devices::DeviceParams& device, const Adc& adc, double full_scale,
                    const ReadPerturbation& perturb, std::vector<double>* read_outs = nullptr);

// -------------------------------------------------------------------------------------- merge

// Adds a tile's digitised outputs y (K x nm, weight x input units) into the layer's accumulator
// (K x M): partial sums for Merge::kSum; for Merge::kMajority the vote sign(y + b/G) of the
// tile's row group, with G = the plan's row groups and b the output's bias.
void merge_tile(const Plan& plan, const TileSpec& t, const Eigen::MatrixXd& y,
                const std::vector<double>& bias_per_output,
                Eigen::Ref<Eigen::MatrixXd> accumulator);

// ------------------------------------------------------------------------------------- stitch

// The bias of lowered output m (sub-image outputs are (channel, oy, ox): the channel's bias).
std::vector<double> bias_per_output(const Layer& layer, const Lowering& lowering);

// Accumulated partial sums (K x M) -> the output tensor: + bias and the activation (sum merge),
// or the sign of the votes (majority merge: outputs are +-1 and the activation is not applied
// after it). `pre_activation` (if given) receives the values before the activation, in the
// output's shape (the votes' sign for a majority merge).
Tensor stitch(const Layer& layer, const Plan& plan, const Eigen::MatrixXd& accumulator,
              const std::vector<double>& bias, std::int64_t batch, Tensor* pre_activation);

// Errors of `simulated` against `ideal` (same shape): RMS, RMS of the ideal, largest |error|
// and its share of the largest |ideal|.
struct OutputErrors {
  double rmse = 0.0;
  double ideal_rms = 0.0;
  double max_abs = 0.0;
  double max_relative = 0.0;  // max |error| / max |ideal| (0 when the ideal is all zero)
};
OutputErrors compare_outputs(const Tensor& simulated, const Tensor& ideal);

}  // namespace xbarnet::mapping
