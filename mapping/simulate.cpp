#include "mapping/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <optional>

#include "solver/crossbar_system.hpp"

#include "core/memory.hpp"
#include "core/threads.hpp"

namespace xbarnet::mapping {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The layer's scales: the largest |weight| and |input| set the weight and input maps.
struct Scales {
  double w_max = 0.0;
  double x_max = 0.0;
  bool signed_inputs = false;
};

Scales scales_of(const Layer& layer, const Tensor& input) {
  Scales s;
  for (double w : layer.weights.data) s.w_max = std::max(s.w_max, std::abs(w));
  for (double x : input.data) {
    s.x_max = std::max(s.x_max, std::abs(x));
    s.signed_inputs = s.signed_inputs || x < 0.0;
  }
  return s;
}

// Word-line voltages of input vectors v0 .. v0 + count - 1 of the batch for one tile
// (count x nk, the DAC applied).
Eigen::MatrixXd tile_voltages(const Layer& layer, const Tensor& input, const Lowering& low,
                              const devices::InputMap& imap, const TileSpec& spec, std::int64_t v0,
                              std::int64_t count) {
  Eigen::MatrixXd v(count, spec.nk);
  std::vector<double> buf(static_cast<size_t>(spec.nk));
  for (std::int64_t k = 0; k < count; ++k) {
    gather(layer.shape, low, input, v0 + k, spec.k0, spec.nk, buf.data());
    for (std::int64_t i = 0; i < spec.nk; ++i) v(k, i) = imap.voltage(buf[i]);
  }
  return v;
}

// The IR-drop map of a tile for the full-scale input (used rows at v_read, the others at 0 V),
// over its used cells (into `drop`, R x C [V], and the tile's report); the solve is also the
// tile's health check.
Status ir_drop_map(const Plan& plan, const TileSpec& spec, double v_read, TileResponse& response,
                   Eigen::MatrixXd& ir_drop, TileReport& report) {
  const std::int64_t rows = plan.options.array.rows;
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(1, rows);
  v.leftCols(spec.nk).setConstant(v_read);
  StatusOr<solver::CrossbarSolution> op = response.operating_point(v);
  if (!op.is_ok()) return op.status();
  const Eigen::MatrixXd drop = op.value().ir_drop(0, v);
  ir_drop.topRows(spec.nk) = drop.topRows(spec.nk);  // unused rows (at 0 V) stay 0
  double worst = 0.0, sum = 0.0;
  const std::vector<Eigen::Index> used = used_columns(plan, spec);
  for (std::int64_t i = 0; i < spec.nk; ++i) {
    for (Eigen::Index j : used) {
      worst = std::max(worst, ir_drop(i, j));
      sum += ir_drop(i, j);
    }
  }
  report.worst_ir_drop = worst / v_read;
  report.mean_ir_drop = sum / static_cast<double>(spec.nk * used.size()) / v_read;
  return Status::ok();
}

bool real_devices(const devices::VariationParams& v) {
  return v.distribution != devices::VariationDistribution::kNone || v.stuck_lrs_rate > 0.0 ||
         v.stuck_hrs_rate > 0.0 || v.write_verify_tolerance > 0.0;
}

using corrections::Side;
using corrections::side_of;

corrections::CorrectionParams correction_params(const SimulationOptions& o) {
  corrections::CorrectionParams p = o.correction;
  p.v_read = o.device.v_read;  // the calibration reads at the device's read voltage
  return p;
}

corrections::TileProblem tile_problem(const TileContext& ctx, const Eigen::MatrixXd& target,
                                      const SimulationOptions& o) {
  return {target,
          ctx.spec.nk,
          used_columns(ctx.plan, ctx.spec),
          ctx.weights.g_min(),
          ctx.weights.g_max(),
          o.parasitics,
          o.backend};
}

// The program stage of one tile: its target, the programming-side correction (into `corr`), and
// what the devices hold.
Status program_tile(const TileContext& ctx, const LoweredWeights& lw,
                    const SimulationOptions& options, const Programmer& programmer,
                    TileConductances& g, corrections::TileCorrection& corr) {
  g.target = target_conductances(ctx.plan, lw, ctx.weights, ctx.spec);
  g.intended = g.target;
  if (side_of(options.correction.scheme) == Side::kProgramming) {
    StatusOr<corrections::TileCorrection> c =
        corrections::correct_tile(tile_problem(ctx, g.target, options), correction_params(options));
    if (!c.is_ok()) return c.status();
    corr = std::move(c).value();
    g.intended = corr.programmed;
  }
  return programmer.program(ctx, g);
}

// Adds a tile's correction report to the layer's summary (means are divided at the end).
void add_correction(const corrections::CorrectionReport& c, CorrectionSummary& s) {
  s.assumes = c.assumes;
  s.error_before_mean += c.error_before;
  s.error_after_mean += c.error_after;
  s.error_before_worst = std::max(s.error_before_worst, c.error_before);
  s.error_after_worst = std::max(s.error_after_worst, c.error_after);
  s.beta_min = std::min(s.beta_min, c.beta);
  s.iterations_max = std::max(s.iterations_max, c.iterations);
  s.factorizations += c.factorizations;
  auto it = std::find_if(s.stop_reasons.begin(), s.stop_reasons.end(),
                         [&](const auto& r) { return r.first == c.stop_reason; });
  if (it == s.stop_reasons.end()) {
    s.stop_reasons.emplace_back(c.stop_reason, 1);
  } else {
    ++it->second;
  }
  s.cells_at_g_min += c.cells_at_g_min;
  s.cells_at_g_max += c.cells_at_g_max;
  s.rows_at_headroom += c.rows_at_headroom;
  s.calibration_reads += c.calibration_reads;
  s.extra_columns += c.extra_columns;
  s.reprogrammed_cells += c.reprogrammed_cells;
  s.seconds += c.seconds;
  s.check_seconds += c.check_seconds;
}

}  // namespace

const core::ParameterTable<SimulationOptions>& simulation_parameters() {
  static const auto kTable =
      core::ParameterTable<SimulationOptions>("simulation")
          .choice(
              "backend", &SimulationOptions::backend,
              std::array{solver::Backend::kCholmod, solver::Backend::kKlu, solver::Backend::kDense},
              "linear solver (klu builds T by R solves; dense is a reference for small tiles)")
          .integer("threads", &SimulationOptions::threads, "", core::Range::at_least(1),
                   "OpenMP threads over tiles (results do not depend on it)",
                   "capped at the hardware's")
          .real("memory_limit", &SimulationOptions::memory_limit, "B", core::Range::at_least(0),
                "largest memory a run may need, estimated from its sizes before it allocates; a "
                "run that needs more is refused with the estimate",
                "0 = half of the machine's physical memory")
          .boolean("ir_drop", &SimulationOptions::ir_drop,
                   "solve each tile's full-scale operating point for its IR-drop map (heatmap, "
                   "IR-drop figures); it also checks T");
  return kTable;
}

Status validate(const SimulationOptions& o) {
  if (Status s = validate(o.mapping); !s.is_ok()) return s;
  if (Status s = devices::validate(o.device); !s.is_ok()) return s;
  if (Status s = devices::validate(o.variation); !s.is_ok()) return s;
  if (Status s = devices::validate(o.adc); !s.is_ok()) return s;
  if (Status s = corrections::validate(o.correction); !s.is_ok()) return s;
  if (o.ideal_only && side_of(o.correction.scheme) == Side::kProgramming) {
    return Status::invalid_argument(fmt::format(
        "correction scheme '{}' with ideal_only: a programming-side correction undoes the "
        "parasitics, which ideal arrays do not have (it would only make them wrong)",
        corrections::to_string(o.correction.scheme)));
  }
  if (Status s = netlists::parasitic_parameters().validate(o.parasitics); !s.is_ok()) return s;
  for (const auto& p : netlists::parasitic_parameters().parameters()) {
    const double v = std::get<double>(p.get(o.parasitics));
    if (std::isinf(v)) {
      return Status::invalid_argument(fmt::format(
          "{} = inf ohm: a layer's arrays need finite resistances (an open driver, wire or "
          "neuron computes nothing; open elements are for single tiles: xbarnet solve)",
          p.name));
    }
  }
  return simulation_parameters().validate(o);
}

double estimate_simulation_bytes(const Plan& plan, std::int64_t batch, std::int64_t out_per_sample,
                                 int threads, bool ideal_only, bool correction_system,
                                 std::int64_t calibration_vectors) {
  const Lowering& low = plan.lowering;
  const auto r = static_cast<double>(plan.options.array.rows);
  const auto c = static_cast<double>(plan.options.array.cols);
  const double vectors = static_cast<double>(batch) * static_cast<double>(low.positions_per_sample);
  const double lowered = 9.0 * static_cast<double>(low.outputs) * static_cast<double>(low.inputs);
  const double accumulators = 2.0 * 8.0 * vectors * static_cast<double>(low.outputs);
  const double tensors =
      4.0 * 8.0 * static_cast<double>(batch) * static_cast<double>(out_per_sample);
  const double concurrent =
      std::min(static_cast<double>(threads), static_cast<double>(plan.tiles.size()));
  // A tile's system (none for ideal arrays), its conductances, and its batch matrices: voltages,
  // simulated and ideal currents of the used columns; the digitised outputs of a wave of
  // 2 x threads tiles are kept until they are merged.
  const double system = ideal_only ? 0.0
                                   : solver::estimate_system_bytes(
                                         plan.options.array.rows, plan.options.array.cols, 1, true);
  // A programming-side correction solves its own system of the tile; a calibration batch adds
  // its voltages and read-outs.
  const double correction = correction_system
                                ? solver::estimate_system_bytes(plan.options.array.rows,
                                                                plan.options.array.cols, 1, false)
                                : 0.0;
  const double per_tile =
      system + correction + 8.0 * 6.0 * r * c +
      8.0 * (vectors + static_cast<double>(calibration_vectors)) * (r + 2.0 * c);
  const double kept = 2.0 * concurrent * 8.0 * vectors * c;
  return lowered + accumulators + tensors + concurrent * per_tile + kept;
}

namespace {

// Tiles set up and read at once: 2 per thread, so that a thread has another tile's chunks to read
// while one is set up, and the memory is bounded by the threads, not by the tiles.
std::int64_t tiles_per_wave(int threads) { return 2 * std::int64_t{std::max(1, threads)}; }

// What every tile's setup reads: the layer, its plan and maps, and the stages chosen.
struct LayerSetup {
  const Layer& layer;
  const SimulationOptions& options;
  const Plan& plan;
  const LoweredWeights& lw;
  const devices::WeightMap& wmap;
  const devices::InputMap& imap;
  const Programmer& programmer;
  const ResponseModel& response_model;
  const Tensor* adc_calibration;  // the batch the ADC's range is calibrated on (may be null)
  bool ir_map;
};

bool range_from_batch(const SimulationOptions& o) {
  return o.device.adc_bits > 0 && (o.adc.range == devices::AdcRange::kCalibrated ||
                                   o.adc.range == devices::AdcRange::kPercentile);
}

// The setup of one tile, everything that does not depend on the evaluated batch: program (and
// correct on the programming side), respond (T, and the IR-drop map that checks it), correct on
// the read side, the ADC's range. `ir_drop` receives the tile's IR-drop map (R x C [V]).
Status setup_tile(const LayerSetup& ls, std::int64_t t, PreparedTile& pt,
                  Eigen::MatrixXd& ir_drop) {
  const auto tile_start = Clock::now();
  const Plan& pl = ls.plan;
  const SimulationOptions& options = ls.options;
  const TileSpec& spec = pl.tiles[t];
  const TileContext ctx{pl, spec, t, options.parasitics, options.device, ls.wmap};
  const std::int64_t rows = pl.options.array.rows;
  const std::int64_t cols = pl.options.array.cols;
  const Side correction_side = side_of(options.correction.scheme);
  pt.report.spec = spec;
  pt.used = used_columns(pl, spec);
  const std::vector<Eigen::Index>& used = pt.used;
  const auto n_used = static_cast<Eigen::Index>(used.size());

  // ---- program (and correct on the programming side): the target, and what the array holds
  TileConductances g;
  corrections::TileCorrection corr;
  if (Status s = program_tile(ctx, ls.lw, options, ls.programmer, g, corr); !s.is_ok()) return s;
  pt.stats = g.stats;
  pt.program_s = seconds_since(tile_start);

  // ---- respond: the programmed circuit (and its IR-drop map, which checks it)
  const auto t_circ = Clock::now();
  StatusOr<std::unique_ptr<TileResponse>> prepared = ls.response_model.prepare(
      netlists::Crossbar::uniform(g.programmed, options.parasitics), ctx, ls.ir_map);
  if (!prepared.is_ok()) return prepared.status();
  TileResponse& response = *prepared.value();
  if (ls.ir_map) {
    ir_drop = Eigen::MatrixXd::Zero(rows, cols);
    if (Status s = ir_drop_map(pl, spec, options.device.v_read, response, ir_drop, pt.report);
        !s.is_ok()) {
      return s;
    }
  }
  pt.report.health = response.health();
  pt.circuit_s = seconds_since(t_circ);

  // ---- correct, read side: from the array as programmed, measured by calibration reads (column
  // gains, input scaling); without a correction, the same report of the tile's T error as it
  // is, for comparison
  const Eigen::MatrixXd* measured = response.transfer();
  if (correction_side != Side::kProgramming) {
    if (measured == nullptr && correction_side == Side::kRead) {
      return Status::invalid_argument(
          fmt::format("correction scheme '{}' needs the tile's transfer matrix (a linear tile)",
                      corrections::to_string(options.correction.scheme)));
    }
    if (measured != nullptr) {
      StatusOr<corrections::TileCorrection> c = corrections::correct_tile(
          tile_problem(ctx, g.target, options), correction_params(options), measured);
      if (!c.is_ok()) return c.status();
      corr = std::move(c).value();
    }
  }
  pt.report.correction = corr.report;
  if (correction_side == Side::kProgramming) {
    // The target scale beta, undone after the ADC (its gain is uniform over the columns).
    const Eigen::VectorXd gain = corr.column_gain(used);
    XBARNET_ASSERT((gain.array() == gain(0)).all(),
                   "a write-side correction's gain is one scalar per tile");
    pt.side.digital_gain = gain(0);
  } else if (correction_side == Side::kRead) {
    pt.side.column_gain = corr.column_gain(used);
    // (No row scale where it is all ones, as for the column-gain scheme: v diag(1) = v exactly,
    // and the reads then need no scaled copy of the voltages.)
    if ((corr.row_scale.head(spec.nk).array() != 1.0).any()) {
      pt.side.row_scale = corr.row_scale.head(spec.nk);
    }
  }
  if (pl.sign == devices::SignScheme::kReference && ls.ir_map) {
    pt.reference_drop = ir_drop.col(cols - 1).head(spec.nk).maxCoeff() / options.device.v_read;
  }

  // The ideal reads' conductances (the target), and the fraction of each row's ideal current
  // that does not reach the neurons (exact, from T and what the row holds).
  pt.target_used.resize(spec.nk, n_used);
  for (Eigen::Index q = 0; q < n_used; ++q) {
    pt.target_used.col(q) = g.target.col(used[q]).head(spec.nk);
  }
  pt.row_loss = Eigen::VectorXd::Constant(rows, std::nan(""));
  if (measured != nullptr) {
    for (std::int64_t i = 0; i < spec.nk; ++i) {
      const double gsum = g.programmed.row(i).sum();
      pt.row_loss(i) = gsum > 0.0 ? 1.0 - measured->col(i).sum() / gsum : 0.0;
    }
  }
  // Read noise: per read, from the rows of T of the used columns (devices::read_noise_rms).
  if (options.variation.read_noise > 0.0) {
    pt.noise_coupling.resize(spec.nk, n_used);
    for (Eigen::Index q = 0; q < n_used; ++q) {
      pt.noise_coupling.col(q) = measured != nullptr
                                     ? measured->row(used[q]).head(spec.nk).transpose().eval()
                                     : g.programmed.col(used[q]).head(spec.nk).eval();
    }
  }

  // ---- the ADC's range: from the array's bound, a fixed value, or the read-outs of the
  // calibration batch through this tile (noise-free reads), never from the evaluated batch
  std::vector<double> cal_read_outs;
  if (range_from_batch(options)) {
    const std::int64_t n_cal = ls.adc_calibration->dim(0) * pl.lowering.positions_per_sample;
    const Eigen::MatrixXd vc =
        tile_voltages(ls.layer, *ls.adc_calibration, pl.lowering, ls.imap, spec, 0, n_cal);
    read_tile(pl, spec, response, vc, pt.side, options.device, Adc{}, 0.0, {}, &cal_read_outs);
    if (options.device.input_encoding == devices::InputEncoding::kBitSerial) {
      // The reads of unset bits are exact zeros: they would pull a percentile down.
      std::erase(cal_read_outs, 0.0);
    }
  }
  const bool differential = pl.sign == devices::SignScheme::kDifferential;
  const double bound =
      devices::bound_full_scale(spec.nk, options.device.v_read,
                                differential ? ls.wmap.g_min() : ls.wmap.g_ref(), ls.wmap.g_max());
  if (options.device.adc_bits > 0) {
    StatusOr<double> full_scale = devices::adc_full_scale(options.adc, cal_read_outs, bound);
    if (!full_scale.is_ok()) return full_scale.status();
    pt.full_scale = full_scale.value();
  }

  // Keep what the reads need; the solver's system goes back to its pool.
  response.release();
  pt.response = std::move(prepared).value();
  pt.report.seconds = seconds_since(tile_start);
  return Status::ok();
}

// A tile's prefix for a message.
std::string tile_prefix(const TileSpec& spec, std::int64_t t) {
  return fmt::format("tile {} (rows {}..{}, outputs {}..{})", t, spec.k0, spec.k0 + spec.nk - 1,
                     spec.m0, spec.m0 + spec.nm - 1);
}

// The stages and the layer-wide data every tile's setup reads, built once per setup; tiles are
// then set up from it all at once (prepare_layer) or wave by wave (simulate).
struct SetupState {
  explicit SetupState(const SimulationOptions& o)
      : devices_programming(o.variation), linear(o.backend) {}
  ExactProgramming exact;
  DeviceProgramming devices_programming;
  LinearCircuitResponse linear;
  IdealResponse ideal_arrays;
  const Programmer* programmer = nullptr;
  const ResponseModel* response_model = nullptr;
  LoweredWeights lw;
  std::optional<devices::WeightMap> wmap;
  std::optional<devices::InputMap> imap;
  const Tensor* adc_calibration = nullptr;  // the batch the ADC's range is calibrated on
  bool ir_map = false;
  Eigen::VectorXd row_loss, row_count;  // the tiles' row losses summed so far
  Clock::time_point start;
};

// Everything before the tiles: the checks, the plan, the stages, the memory the run needs (with
// `keep_tiles`, every tile's response kept for later batches), the scales and maps.
// `scale_batch` sets the input scale, `adc_calibration` (may be null) the ADC's range, `batch`
// (0: the scale batch's) sizes the memory check.
Status begin_setup(const Layer& layer, const SimulationOptions& options, const Stages& stages,
                   const Tensor& scale_batch, const Tensor* adc_calibration, std::int64_t batch,
                   bool keep_tiles, PreparedLayer& p, SetupState& st) {
  st.start = Clock::now();
  if (Status s = validate(options); !s.is_ok()) return s;
  if (adc_calibration != nullptr) {
    if (Status s = validate_input(layer, *adc_calibration); !s.is_ok()) {
      return Status::invalid_argument(fmt::format("the calibration batch: {}", s.message()));
    }
  }
  if (range_from_batch(options) && adc_calibration == nullptr) {
    return Status::invalid_argument(fmt::format(
        "adc range = '{}' needs a calibration batch (a layer's calibration = file.npy): the ADC "
        "range is never taken from the evaluated batch itself",
        devices::to_string(options.adc.range)));
  }

  // ---- plan
  StatusOr<Plan> planned = plan(layer.shape, options.mapping, options.device.sign);
  if (!planned.is_ok()) return planned.status();
  const devices::VariationParams& var = options.variation;
  st.programmer = stages.programmer != nullptr
                      ? stages.programmer
                      : (real_devices(var) ? static_cast<const Programmer*>(&st.devices_programming)
                                           : &st.exact);
  st.response_model =
      stages.response != nullptr
          ? stages.response
          : (options.ideal_only ? static_cast<const ResponseModel*>(&st.ideal_arrays) : &st.linear);
  st.ir_map = options.ir_drop && !options.ideal_only;
  st.adc_calibration = adc_calibration;

  p.layer = layer;
  p.options = options;
  // Ideal arrays holding exactly their target, read in analog without noise: the simulated
  // currents are the ideal ones (the timing baseline skips the second product).
  p.ideal_and_exact = options.ideal_only && stages.programmer == nullptr &&
                      stages.response == nullptr && !real_devices(var) && var.read_noise == 0.0 &&
                      options.device.input_encoding == devices::InputEncoding::kAnalog;
  LayerReport& rep = p.report;
  rep.plan = planned.value();
  rep.programming = st.programmer->name();
  rep.response = st.response_model->name();
  rep.backend = solver::to_string(options.backend);
  rep.ordering = options.ideal_only ? "none (no circuit)"
                                    : "nd (nested dissection of the cell grid, boundary last)";
  rep.ir_drop_mapped = st.ir_map;
  rep.adc_bits = options.device.adc_bits;
  if (rep.plan.options.scheme == Scheme::kInputSplit &&
      rep.plan.options.merge == Merge::kMajority && layer.activation != Activation::kNone &&
      layer.activation != Activation::kSign) {
    rep.plan.note += fmt::format(
        "{}majority merge: the outputs are the sign of the group votes (+-1); the activation "
        "'{}' is not applied after it",
        rep.plan.note.empty() ? "" : "; ", to_string(layer.activation));
  }
  const Plan& pl = rep.plan;
  const Lowering& low = pl.lowering;
  const std::int64_t n_cal =
      adc_calibration != nullptr ? adc_calibration->dim(0) * low.positions_per_sample : 0;
  {
    std::int64_t out_per_sample = 1;
    for (std::int64_t d : output_shape(layer.shape, 1)) out_per_sample *= d;
    const std::int64_t b = batch > 0 ? batch : scale_batch.dim(0);
    double need = estimate_simulation_bytes(
        pl, b, out_per_sample, core::capped_threads(options.threads), options.ideal_only,
        side_of(options.correction.scheme) == Side::kProgramming, n_cal);
    if (keep_tiles) {
      need += prepared_layer_bytes(pl);
    } else {
      // simulate() gathers word-line voltages ahead of the reads: at most those of a wave of
      // 2 x threads tiles (setup_and_run_tiles).
      need += std::min(static_cast<double>(tiles_per_wave(core::capped_threads(options.threads))),
                       static_cast<double>(pl.tiles.size())) *
              8.0 * static_cast<double>(b * low.positions_per_sample) *
              static_cast<double>(pl.options.array.rows);
    }
    const double limit = core::effective_memory_limit(options.memory_limit);
    if (need > limit) {
      return Status::invalid_argument(fmt::format(
          "the run needs about {:.3g} GB ({} tiles of {} x {} cells, {} input vectors per tile, "
          "{} thread(s)), more than the memory limit of {:.3g} GB (memory_limit; 0 = half of "
          "the machine's memory): use smaller arrays, a smaller batch or fewer threads",
          need / 1e9, pl.tiles.size(), pl.options.array.rows, pl.options.array.cols,
          b * low.positions_per_sample, core::capped_threads(options.threads), limit / 1e9));
    }
  }
  st.lw = lowered_weights(layer, low);
  // The input scale comes from the calibration batch when there is one (then it does not
  // depend on the evaluated batch); the weight scale from the weights.
  const Scales sc = scales_of(layer, scale_batch);
  p.w_max = sc.w_max;
  p.x_max = sc.x_max;
  p.signed_inputs = sc.signed_inputs;
  rep.w_max = sc.w_max;
  rep.x_max = sc.x_max;
  rep.calibrated = adc_calibration != nullptr;
  if (rep.calibrated && !(sc.x_max > 0.0)) {
    return Status::invalid_argument(
        "the calibration batch is all zeros: it gives no input scale (its largest |x| must be > "
        "0)");
  }
  st.wmap.emplace(options.device, sc.w_max);
  st.imap.emplace(options.device, sc.x_max, sc.signed_inputs);
  rep.correction.scheme = corrections::to_string(options.correction.scheme);
  p.bias = bias_per_output(layer, low);
  rep.threads = core::capped_threads(options.threads);
  p.tiles.resize(pl.tiles.size());
  st.row_loss = Eigen::VectorXd::Zero(pl.options.array.rows);
  st.row_count = Eigen::VectorXd::Zero(pl.options.array.rows);
  rep.seconds.map = seconds_since(st.start);
  return Status::ok();
}

// Runs f (returning a Status) inside a parallel region or task, where an exception must not
// escape (it would end the process): running out of memory becomes a Status.
template <typename F>
Status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return {StatusCode::kBackendFailure,
            "out of memory: use smaller arrays, a smaller batch or fewer threads (memory_limit "
            "bounds what a run may need)"};
  } catch (const std::exception& e) {
    return {StatusCode::kBackendFailure, fmt::format("internal error: {}", e.what())};
  }
}

// What one tile's setup hands back besides its PreparedTile: its status and IR-drop map.
struct SetupResults {
  std::vector<Status> status;
  std::vector<Eigen::MatrixXd> ir_drop;
  explicit SetupResults(std::int64_t tiles)
      : status(static_cast<size_t>(tiles)), ir_drop(static_cast<size_t>(tiles)) {}
};

LayerSetup layer_setup(const PreparedLayer& p, const SetupState& st) {
  return LayerSetup{
      p.layer,        p.options,          p.report.plan,      st.lw,    *st.wmap, *st.imap,
      *st.programmer, *st.response_model, st.adc_calibration, st.ir_map};
}

// Adds the reports of set-up tiles [t0, t1) to the layer's, in tile order; an IR-drop map is
// kept for the worst tile only.
Status absorb_setups(PreparedLayer& p, SetupState& st, std::int64_t t0, std::int64_t t1,
                     SetupResults& done) {
  const Plan& pl = p.report.plan;
  LayerReport& rep = p.report;
  for (std::int64_t t = t0; t < t1; ++t) {
    const PreparedTile& pt = p.tiles[t];
    const Status& status = done.status[t - t0];
    if (!status.is_ok()) {
      return Status(status.code(),
                    fmt::format("{}: {}", tile_prefix(pl.tiles[t], t), status.message()));
    }
    for (Eigen::Index i = 0; i < st.row_loss.size(); ++i) {
      if (!std::isnan(pt.row_loss(i))) {
        st.row_loss(i) += pt.row_loss(i);
        st.row_count(i) += 1.0;
      }
    }
    rep.seconds.program += pt.program_s;
    rep.seconds.circuit += pt.circuit_s;
    rep.adc_full_scale_min =
        t == 0 ? pt.full_scale : std::min(rep.adc_full_scale_min, pt.full_scale);
    rep.adc_full_scale_max = std::max(rep.adc_full_scale_max, pt.full_scale);
    rep.programming_stats += pt.stats;
    rep.reference_worst_ir_drop = std::max(rep.reference_worst_ir_drop, pt.reference_drop);
    add_correction(pt.report.correction, rep.correction);
    rep.worst_residual = std::max(rep.worst_residual, pt.report.health.residual);
    rep.tiny_shorts += pt.report.health.tiny_shorts;
    rep.worst_transfer_check = std::max(rep.worst_transfer_check, pt.report.health.transfer_check);
    if (rep.worst_tile < 0 || pt.report.worst_ir_drop > rep.tiles[rep.worst_tile].worst_ir_drop) {
      rep.worst_tile = t;
      rep.worst_ir_drop = std::move(done.ir_drop[t - t0]);
    }
    rep.tiles.push_back(pt.report);
  }
  return Status::ok();
}

// Sets up tiles [t0, t1) in parallel and adds their reports to the layer's in tile order.
Status setup_tiles(PreparedLayer& p, SetupState& st, std::int64_t t0, std::int64_t t1) {
  const LayerSetup ls = layer_setup(p, st);
  SetupResults done(t1 - t0);
#pragma omp parallel for num_threads(p.report.threads) schedule(dynamic)
  for (std::int64_t t = t0; t < t1; ++t) {
    done.status[t - t0] =
        guarded([&] { return setup_tile(ls, t, p.tiles[t], done.ir_drop[t - t0]); });
  }
  return absorb_setups(p, st, t0, t1, done);
}

// The layer-wide figures once every tile is set up.
void finish_setup(PreparedLayer& p, SetupState& st) {
  LayerReport& rep = p.report;
  if (rep.worst_ir_drop.size() == 0) {
    rep.worst_ir_drop =
        Eigen::MatrixXd::Zero(rep.plan.options.array.rows, rep.plan.options.array.cols);
  }
  if (!rep.tiles.empty()) {
    rep.correction.error_before_mean /= static_cast<double>(rep.tiles.size());
    rep.correction.error_after_mean /= static_cast<double>(rep.tiles.size());
  }
  rep.loss_by_row.resize(static_cast<size_t>(st.row_loss.size()));
  for (Eigen::Index i = 0; i < st.row_loss.size(); ++i) {
    rep.loss_by_row[i] = st.row_count(i) > 0.0 ? st.row_loss(i) / st.row_count(i) : 0.0;
  }
  double mean_drop = 0.0;
  for (const TileReport& t : rep.tiles) {
    rep.worst_ir_drop_fraction = std::max(rep.worst_ir_drop_fraction, t.worst_ir_drop);
    mean_drop += t.mean_ir_drop;
  }
  rep.mean_ir_drop_fraction =
      rep.tiles.empty() ? 0.0 : mean_drop / static_cast<double>(rep.tiles.size());
  if (st.response_model == &st.linear) rep.analyses = st.linear.analyses();
  p.setup_seconds = seconds_since(st.start);
}

// A tile's batch is read in chunks of this many input vectors, the unit of work the threads
// share: with whole tiles as the unit, 3 tiles on 2 threads left one thread idle for a third of
// the run. A fixed size, so that the results do not depend on the thread count.
constexpr std::int64_t kChunkVectors = 8192;

// What one chunk of a tile's input vectors adds to a batch.
struct TileRun {
  Eigen::MatrixXd y, y_ideal;          // count x nm digitised read-outs, weight x input units
  Eigen::VectorXd col_err2, col_ref2;  // C: sums of squared current errors and references
  std::int64_t conversions = 0, clipped = 0, nonzero = 0;  // ADC conversions of its reads
  double apply_s = 0.0;
};

// Input vectors v0 .. v1 - 1 of the batch through tile t.
TileRun run_tile(const PreparedLayer& p, std::int64_t t, const Tensor& input,
                 const devices::InputMap& imap, double to_weight_units, bool with_ideal,
                 std::int64_t first_vector, std::int64_t v0, std::int64_t v1,
                 Eigen::MatrixXd gathered = {}) {
  const auto t_apply = Clock::now();
  const Plan& pl = p.report.plan;
  const PreparedTile& pt = p.tiles[t];
  const TileSpec& spec = pl.tiles[t];
  const SimulationOptions& options = p.options;
  const devices::VariationParams& var = options.variation;
  TileRun tr;
  // The chunk's input vectors through the tile at once; the ideal from the target.
  const Eigen::MatrixXd v =
      gathered.size() != 0 ? std::move(gathered)
                           : tile_voltages(p.layer, input, pl.lowering, imap, spec, v0, v1 - v0);
  Eigen::MatrixXd i_ideal;
  if (with_ideal || p.ideal_and_exact) {
    i_ideal.noalias() = v * pt.target_used;  // (without noalias: a temporary, then a copy)
    tr.y_ideal = read_out(i_ideal, pl, spec);
  }
  // ---- read (the read side's corrections, the input encoding, read noise), read out,
  // digitise; the ideal reference keeps analog reads and an ideal ADC
  ReadPerturbation noise;
  if (var.read_noise > 0.0) {
    const std::int64_t first = first_vector + v0;
    noise = [&var, &pt, t, first](Eigen::MatrixXd& i, const Eigen::MatrixXd& vr, int read) {
      devices::add_read_noise(
          i, devices::read_noise_rms(vr, pt.noise_coupling), var,
          devices::combine_streams(static_cast<std::uint64_t>(t), static_cast<std::uint64_t>(read)),
          first);
    };
  }
  const Adc adc{options.device.adc_bits};
  TileReads reads;
  if (p.ideal_and_exact) {
    // The reads are the ideal ones; without the ideal reference they are not needed twice.
    reads.current = with_ideal ? i_ideal : std::move(i_ideal);
    reads.y = with_ideal ? tr.y_ideal : std::move(tr.y_ideal);
    reads.conversions = reads.y.size();
    reads.nonzero = static_cast<std::int64_t>((reads.y.array() != 0.0).count());
    reads.clipped = adc.apply(reads.y, pt.full_scale);
  } else {
    reads =
        read_tile(pl, spec, *pt.response, v, pt.side, options.device, adc, pt.full_scale, noise);
  }
  if (with_ideal) {
    const std::int64_t cols = pl.options.array.cols;
    tr.col_err2 = Eigen::VectorXd::Zero(cols);
    tr.col_ref2 = Eigen::VectorXd::Zero(cols);
    for (size_t q = 0; q < pt.used.size(); ++q) {
      const auto c = static_cast<Eigen::Index>(q);
      tr.col_err2(pt.used[q]) = (reads.current.col(c) - i_ideal.col(c)).squaredNorm();
      tr.col_ref2(pt.used[q]) = i_ideal.col(c).squaredNorm();
    }
    tr.y_ideal *= to_weight_units;
  } else {
    tr.y_ideal.resize(0, 0);
  }
  tr.y = std::move(reads.y);
  tr.y *= to_weight_units;
  tr.conversions = reads.conversions;
  tr.clipped = reads.clipped;
  tr.nonzero = reads.nonzero;
  tr.apply_s = seconds_since(t_apply);
  return tr;
}

// A batch through the tiles, merged in tile order (the result does not depend on the thread
// count).
struct BatchTotals {
  Eigen::MatrixXd acc, acc_ideal;      // K x M
  Eigen::VectorXd col_err2, col_ref2;  // C
  std::vector<double> current_error;   // per tile (with the ideal)
  std::int64_t conversions = 0, clipped = 0, nonzero = 0, inputs_clipped = 0;
  double apply_s = 0.0;
};

BatchTotals begin_batch(const PreparedLayer& p, const Tensor& input, bool with_ideal) {
  const Plan& pl = p.report.plan;
  const std::int64_t n_vec = input.dim(0) * pl.lowering.positions_per_sample;
  BatchTotals out;
  out.acc = Eigen::MatrixXd::Zero(n_vec, pl.lowering.outputs);
  if (with_ideal) out.acc_ideal = Eigen::MatrixXd::Zero(n_vec, pl.lowering.outputs);
  out.col_err2 = Eigen::VectorXd::Zero(pl.options.array.cols);
  out.col_ref2 = Eigen::VectorXd::Zero(pl.options.array.cols);
  if (p.report.calibrated) {
    // Inputs the DAC cannot represent: beyond the calibration's largest |x|, and negative ones
    // when the calibration batch has none (its DAC is unsigned).
    for (double x : input.data) {
      out.inputs_clipped += (std::abs(x) > p.x_max || (x < 0.0 && !p.signed_inputs)) ? 1 : 0;
    }
  }
  return out;
}

// The chunks of a wave of tiles [t0, t1): item (t - t0) * chunks + c reads vectors
// c * kChunkVectors .. of tile t.
struct WaveRuns {
  std::int64_t t0, t1, n_vec, chunks;
  std::vector<TileRun> runs;
  std::vector<Eigen::MatrixXd> gathered;  // an item's word-line voltages, gathered ahead
  std::vector<double> gather_s;           // and the seconds that took
  std::vector<Status> status;             // of each item's gathering and reads
  WaveRuns(std::int64_t first, std::int64_t last, std::int64_t vectors)
      : t0(first),
        t1(last),
        n_vec(vectors),
        chunks(std::max<std::int64_t>(1, (vectors + kChunkVectors - 1) / kChunkVectors)),
        runs(static_cast<size_t>((last - first) * chunks)),
        gathered(runs.size()),
        gather_s(runs.size(), 0.0),
        status(runs.size()) {}
  std::int64_t items() const { return (t1 - t0) * chunks; }
  std::int64_t tile(std::int64_t item) const { return t0 + item / chunks; }
  std::int64_t v0(std::int64_t item) const { return (item % chunks) * kChunkVectors; }
  std::int64_t v1(std::int64_t item) const { return std::min(n_vec, v0(item) + kChunkVectors); }
  // The first failure, in item order.
  Status first_failure() const {
    for (const Status& s : status) {
      if (!s.is_ok()) return s;
    }
    return Status::ok();
  }
};

// What every chunk of a batch reads with.
struct BatchContext {
  const PreparedLayer& p;
  const Tensor& input;
  bool with_ideal;
  devices::InputMap imap;
  double to_weight_units;
  std::int64_t first_vector;
  BatchContext(const PreparedLayer& prepared, const Tensor& in, bool ideal,
               std::int64_t first_sample)
      : p(prepared),
        input(in),
        with_ideal(ideal),
        imap(prepared.options.device, prepared.x_max, prepared.signed_inputs),
        to_weight_units(1.0 / (devices::WeightMap(prepared.options.device, prepared.w_max).scale() *
                               imap.volts_per_unit())),
        first_vector(first_sample * prepared.report.plan.lowering.positions_per_sample) {}
  void gather_ahead(WaveRuns& w, std::int64_t item) const {
    w.status[item] = guarded([&] {
      const auto start = Clock::now();
      w.gathered[item] =
          tile_voltages(p.layer, input, p.report.plan.lowering, imap,
                        p.report.plan.tiles[w.tile(item)], w.v0(item), w.v1(item) - w.v0(item));
      w.gather_s[item] = seconds_since(start);
      return Status::ok();
    });
  }
  void run(WaveRuns& w, std::int64_t item) const {
    if (!w.status[item].is_ok()) return;
    w.status[item] = guarded([&] {
      w.runs[item] = run_tile(p, w.tile(item), input, imap, to_weight_units, with_ideal,
                              first_vector, w.v0(item), w.v1(item), std::move(w.gathered[item]));
      w.runs[item].apply_s += w.gather_s[item];  // (the apply phase includes the gathering)
      return Status::ok();
    });
  }
};

// Merges a wave's chunks into the batch, in tile order and, within a tile, in vector order.
void merge_wave(const PreparedLayer& p, bool with_ideal, WaveRuns& w, BatchTotals& out) {
  const Plan& pl = p.report.plan;
  for (std::int64_t t = w.t0; t < w.t1; ++t) {
    const TileSpec& spec = pl.tiles[t];
    double err2 = 0.0, ref2 = 0.0;
    for (std::int64_t item = (t - w.t0) * w.chunks; item < (t - w.t0 + 1) * w.chunks; ++item) {
      TileRun& tr = w.runs[item];
      const Eigen::Index rows = w.v1(item) - w.v0(item);
      merge_tile(pl, spec, tr.y, p.bias, out.acc.middleRows(w.v0(item), rows));
      if (with_ideal) {
        merge_tile(pl, spec, tr.y_ideal, p.bias, out.acc_ideal.middleRows(w.v0(item), rows));
        out.col_err2 += tr.col_err2;
        out.col_ref2 += tr.col_ref2;
        err2 += tr.col_err2.sum();
        ref2 += tr.col_ref2.sum();
      }
      out.conversions += tr.conversions;
      out.clipped += tr.clipped;
      out.nonzero += tr.nonzero;
      out.apply_s += tr.apply_s;
      tr = TileRun{};
    }
    out.current_error.push_back(ref2 > 0.0 ? std::sqrt(err2) / std::sqrt(ref2) : 0.0);
  }
}

// Tiles [t0, t1) (set up) read the batch, in chunks shared by the threads, and are merged in
// tile order.
Status run_tiles(const PreparedLayer& p, const Tensor& input, bool with_ideal,
                 std::int64_t first_sample, std::int64_t t0, std::int64_t t1, BatchTotals& out) {
  const BatchContext ctx(p, input, with_ideal, first_sample);
  const std::int64_t n_vec = input.dim(0) * p.report.plan.lowering.positions_per_sample;
  const std::int64_t wave = tiles_per_wave(p.report.threads);
  for (std::int64_t w0 = t0; w0 < t1; w0 += wave) {
    WaveRuns w(w0, std::min(t1, w0 + wave), n_vec);
#pragma omp parallel for num_threads(p.report.threads) schedule(dynamic)
    for (std::int64_t item = 0; item < w.items(); ++item) ctx.run(w, item);
    if (Status s = w.first_failure(); !s.is_ok()) return s;
    merge_wave(p, with_ideal, w, out);
  }
  return Status::ok();
}

// simulate()'s wave: tiles [t0, t1) are set up and read the batch as one graph of tasks:
//   the layout's shared setup (the analyzed prototype of a circuit's tiles), made once;
//   each tile's setup, after it;
//   each chunk's word-line voltages, gathered whenever a thread is free (they need no circuit);
//   each chunk's reads, after its tile's setup and its gathering.
// So no thread waits while the prototype is analyzed or a tile is set up, as long as there is
// gathering to do. The setups and the chunks are then merged in tile order.
Status setup_and_run_tiles(PreparedLayer& p, SetupState& st, const Tensor& input, std::int64_t t0,
                           std::int64_t t1, BatchTotals& out) {
  const LayerSetup ls = layer_setup(p, st);
  SetupResults done(t1 - t0);
  Status layout;
  double layout_s = 0.0;
  std::vector<char> ready(static_cast<size_t>(t1 - t0) + 1, 0);
  const BatchContext ctx(p, input, true, 0);
  WaveRuns w(t0, t1, input.dim(0) * p.report.plan.lowering.positions_per_sample);
  std::vector<char> gathered(static_cast<size_t>(w.items()), 0);
  // The tasks' dependences, one address each (GCC does not count a use in a depend clause).
  [[maybe_unused]] char* const anchor = ready.data();
  [[maybe_unused]] char* const shared = anchor + (t1 - t0);
  [[maybe_unused]] char* const voltages = gathered.data();
#pragma omp parallel num_threads(p.report.threads)
#pragma omp single
  {
    // Created in the order they should be taken: setups first, then gathering and reads.
#pragma omp task depend(out : shared[0])
    {
      // The layout from the first tile's target cells (the programmed ones differ only in
      // values, which the tiles re-stamp).
      const auto start = Clock::now();
      const TileSpec& spec = p.report.plan.tiles[t0];
      layout = guarded([&] {
        return ls.response_model.prepare_layout(netlists::Crossbar::uniform(
            target_conductances(ls.plan, ls.lw, ls.wmap, spec), p.options.parasitics));
      });
      layout_s = seconds_since(start);
    }
    for (std::int64_t t = t0; t < t1; ++t) {
#pragma omp task depend(in : shared[0]) depend(out : anchor[t - t0])
      done.status[t - t0] =
          layout.is_ok()
              ? guarded([&] { return setup_tile(ls, t, p.tiles[t], done.ir_drop[t - t0]); })
              : layout;
    }
    for (std::int64_t item = 0; item < w.items(); ++item) {
      const std::int64_t t = w.tile(item);
#pragma omp task depend(out : voltages[item])
      ctx.gather_ahead(w, item);
#pragma omp task depend(in : anchor[t - t0]) depend(in : voltages[item])
      if (done.status[t - t0].is_ok()) ctx.run(w, item);
    }
  }
  if (!layout.is_ok()) {
    const Plan& pl = p.report.plan;
    return Status(layout.code(),
                  fmt::format("the tiles' circuit layout ({} x {} cells, from tile {}): {}",
                              pl.options.array.rows, pl.options.array.cols, t0, layout.message()));
  }
  p.report.seconds.circuit += layout_s;  // (the layout's analysis is circuit work)
  if (Status s = absorb_setups(p, st, t0, t1, done); !s.is_ok()) return s;
  if (Status s = w.first_failure(); !s.is_ok()) return s;
  merge_wave(p, true, w, out);
  return Status::ok();
}

Status refuse_non_finite(const Tensor& simulated) {
  for (double y : simulated.data) {
    if (!std::isfinite(y)) {
      return Status::invalid_argument(fmt::format(
          "a simulated output is {}: refused rather than reported (the parameters drive the "
          "arrays outside what double precision holds)",
          y));
    }
  }
  return Status::ok();
}

// Without an activation (and without a majority merge) the outputs are the pre-activations.
bool outputs_are_macs(const Layer& layer, const Plan& pl) {
  return layer.activation == Activation::kNone &&
         !(pl.options.scheme == Scheme::kInputSplit && pl.options.merge == Merge::kMajority);
}

}  // namespace

double prepared_layer_bytes(const Plan& plan) {
  // Per tile: its transfer matrix, its target's used cells and its read-noise coupling.
  return static_cast<double>(plan.tiles.size()) * 3.0 * 8.0 *
         static_cast<double>(plan.options.array.rows) *
         static_cast<double>(plan.options.array.cols);
}

Status check_adc_covers(const SimulationOptions& options, std::int64_t clipped,
                        std::int64_t nonzero, double full_scale_min, double full_scale_max) {
  if (options.device.adc_bits == 0 || nonzero == 0 || clipped < nonzero) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "adc range = '{}' (full scale {:.4g} .. {:.4g} A) clips every one of the {} non-zero "
      "read-outs: the range must cover the outputs (a larger full_scale, or range = 'bound' or "
      "'calibrated')",
      devices::to_string(options.adc.range), full_scale_min, full_scale_max, nonzero));
}

StatusOr<PreparedLayer> prepare_layer(const Layer& layer, const SimulationOptions& options,
                                      const Tensor& calibration, const Stages& stages,
                                      const std::function<void(std::int64_t)>& on_tiles) {
  PreparedLayer p;
  SetupState st(options);
  if (Status s = begin_setup(layer, options, stages, calibration, &calibration, 0, true, p, st);
      !s.is_ok()) {
    return s;
  }
  const auto n = static_cast<std::int64_t>(p.tiles.size());
  // With a progress callback, in waves of 2 x threads tiles (told between waves, on this thread).
  const std::int64_t wave =
      on_tiles ? tiles_per_wave(p.report.threads) : std::max<std::int64_t>(n, 1);
  for (std::int64_t t0 = 0; t0 < n; t0 += wave) {
    const std::int64_t t1 = std::min(n, t0 + wave);
    if (Status s = setup_tiles(p, st, t0, t1); !s.is_ok()) return s;
    if (on_tiles) on_tiles(t1);
  }
  finish_setup(p, st);
  return p;
}

StatusOr<LayerRun> run_layer(const PreparedLayer& prepared, const Tensor& input, bool with_ideal,
                             std::int64_t first_sample) {
  const auto t_start = Clock::now();
  if (Status s = validate_input(prepared.layer, input); !s.is_ok()) return s;
  BatchTotals totals = begin_batch(prepared, input, with_ideal);
  if (Status s = run_tiles(prepared, input, with_ideal, first_sample, 0,
                           static_cast<std::int64_t>(prepared.tiles.size()), totals);
      !s.is_ok()) {
    return s;
  }
  const Plan& pl = prepared.report.plan;
  LayerRun run;
  run.simulated = stitch(prepared.layer, pl, totals.acc, prepared.bias, input.dim(0), nullptr);
  if (Status s = refuse_non_finite(run.simulated); !s.is_ok()) return s;
  if (with_ideal) {
    run.ideal = stitch(prepared.layer, pl, totals.acc_ideal, prepared.bias, input.dim(0), nullptr);
  }
  run.adc_conversions = totals.conversions;
  run.adc_clipped = totals.clipped;
  run.adc_nonzero = totals.nonzero;
  run.inputs_clipped = totals.inputs_clipped;
  run.seconds = seconds_since(t_start);
  return run;
}

StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options, const Stages& stages,
                                    const Tensor* calibration) {
  const auto t_start = Clock::now();
  if (Status s = validate(options); !s.is_ok()) return s;
  if (Status s = validate_input(layer, input); !s.is_ok()) return s;
  PreparedLayer p;
  SetupState st(options);
  if (Status s = begin_setup(layer, options, stages, calibration != nullptr ? *calibration : input,
                             calibration, input.dim(0), false, p, st);
      !s.is_ok()) {
    return s;
  }
  // Tiles in waves of 2 x threads: each wave is set up, reads the batch and is let go, so that
  // the memory is bounded by the threads, not by the tiles.
  BatchTotals totals = begin_batch(p, input, true);
  const auto n_tiles = static_cast<std::int64_t>(p.tiles.size());
  const std::int64_t wave = tiles_per_wave(p.report.threads);
  for (std::int64_t t0 = 0; t0 < n_tiles; t0 += wave) {
    const std::int64_t t1 = std::min(n_tiles, t0 + wave);
    if (Status s = setup_and_run_tiles(p, st, input, t0, t1, totals); !s.is_ok()) return s;
    for (std::int64_t t = t0; t < t1; ++t) p.tiles[t] = PreparedTile{};
  }
  finish_setup(p, st);

  SimulationResult result;
  LayerReport& rep = result.report;
  rep = std::move(p.report);
  const Plan& pl = rep.plan;
  const std::int64_t cols = pl.options.array.cols;
  for (size_t t = 0; t < rep.tiles.size(); ++t) {
    rep.tiles[t].current_error = totals.current_error[t];
  }
  rep.seconds.apply = totals.apply_s;
  rep.adc_conversions = totals.conversions;
  rep.adc_clipped = totals.clipped;
  rep.adc_nonzero = totals.nonzero;
  rep.inputs_clipped = totals.inputs_clipped;
  rep.input_vectors = input.dim(0) * pl.lowering.positions_per_sample;
  rep.adc_energy = static_cast<double>(rep.adc_conversions) *
                   devices::conversion_energy(options.adc, options.device.adc_bits);
  if (Status s = check_adc_covers(options, rep.adc_clipped, rep.adc_nonzero, rep.adc_full_scale_min,
                                  rep.adc_full_scale_max);
      !s.is_ok()) {
    return s;
  }

  // ---- stitch: bias, activation, each output to its place; the layer's metrics
  const auto t_stitch = Clock::now();
  const bool macs = outputs_are_macs(layer, pl);
  Tensor pre, pre_ideal;
  result.simulated = stitch(layer, pl, totals.acc, p.bias, input.dim(0), macs ? nullptr : &pre);
  result.ideal =
      stitch(layer, pl, totals.acc_ideal, p.bias, input.dim(0), macs ? nullptr : &pre_ideal);
  if (Status s = refuse_non_finite(result.simulated); !s.is_ok()) return s;
  const OutputErrors out = compare_outputs(result.simulated, result.ideal);
  const OutputErrors mac = macs ? out : compare_outputs(pre, pre_ideal);
  rep.rmse = out.rmse;
  rep.ideal_rms = out.ideal_rms;
  rep.relative_rmse = out.ideal_rms > 0.0 ? out.rmse / out.ideal_rms : 0.0;
  rep.max_abs_error = out.max_abs;
  rep.max_rel_error = out.max_relative;
  rep.mac_rmse = mac.rmse;
  rep.mac_max_rel_error = mac.max_relative;
  rep.error_by_column.resize(static_cast<size_t>(cols));
  for (std::int64_t j = 0; j < cols; ++j) {
    rep.error_by_column[j] =
        totals.col_ref2(j) > 0.0 ? std::sqrt(totals.col_err2(j) / totals.col_ref2(j)) : 0.0;
  }
  if (pl.sign == devices::SignScheme::kReference) {
    rep.reference_current_error =
        totals.col_ref2(cols - 1) > 0.0
            ? std::sqrt(totals.col_err2(cols - 1) / totals.col_ref2(cols - 1))
            : 0.0;
  }
  rep.seconds.stitch = seconds_since(t_stitch);
  rep.seconds.total = seconds_since(t_start);
  return result;
}

StatusOr<TileCircuit> tile_circuit(const Layer& layer, const Tensor& input,
                                   const SimulationOptions& options, std::int64_t tile,
                                   std::int64_t vector, const Tensor* calibration) {
  if (Status s = validate(options); !s.is_ok()) return s;
  if (Status s = validate_input(layer, input); !s.is_ok()) return s;
  StatusOr<Plan> planned = plan(layer.shape, options.mapping, options.device.sign);
  if (!planned.is_ok()) return planned.status();
  const Plan& pl = planned.value();
  const auto n_tiles = static_cast<std::int64_t>(pl.tiles.size());
  if (tile < 0 || tile >= n_tiles) {
    return Status::invalid_argument(
        fmt::format("tile = {}: the layer maps to tiles 0 .. {}", tile, n_tiles - 1));
  }
  const std::int64_t n_vec = input.dim(0) * pl.lowering.positions_per_sample;
  if (vector < 0 || vector >= n_vec) {
    return Status::invalid_argument(fmt::format(
        "vector = {}: the batch gives input vectors 0 .. {} per tile", vector, n_vec - 1));
  }
  const Scales sc = scales_of(layer, calibration != nullptr ? *calibration : input);
  const devices::WeightMap wmap(options.device, sc.w_max);
  const devices::InputMap imap(options.device, sc.x_max, sc.signed_inputs);
  TileCircuit tc;
  tc.spec = pl.tiles[tile];
  // The programmed tile, as simulate() solves it (its corrections and devices included).
  const ExactProgramming exact;
  const DeviceProgramming devices_programming(options.variation);
  const Programmer& programmer =
      real_devices(options.variation) ? static_cast<const Programmer&>(devices_programming) : exact;
  TileConductances g;
  corrections::TileCorrection corr;
  const TileContext ctx{pl, tc.spec, tile, options.parasitics, options.device, wmap};
  if (Status s =
          program_tile(ctx, lowered_weights(layer, pl.lowering), options, programmer, g, corr);
      !s.is_ok()) {
    return s;
  }
  tc.xbar = netlists::Crossbar::uniform(g.programmed, options.parasitics);
  tc.inputs = Eigen::MatrixXd::Zero(1, pl.options.array.rows);
  std::vector<double> buf(static_cast<size_t>(tc.spec.nk));
  gather(layer.shape, pl.lowering, input, vector, tc.spec.k0, tc.spec.nk, buf.data());
  for (std::int64_t i = 0; i < tc.spec.nk; ++i) tc.inputs(0, i) = imap.voltage(buf[i]);
  // Input scaling drives the rows harder: the exported sources are the scaled voltages. (Column
  // gains act after the read: they are not part of the circuit.)
  if (options.correction.scheme == corrections::Scheme::kInputScaling) {
    StatusOr<solver::TransferRun> t = solver::transfer_matrix(tc.xbar, options.backend);
    if (!t.is_ok()) return t.status();
    StatusOr<corrections::TileCorrection> c = corrections::correct_tile(
        tile_problem(ctx, g.target, options), correction_params(options), &t.value().transfer.t);
    if (!c.is_ok()) return c.status();
    tc.inputs = tc.inputs * c.value().row_scale.asDiagonal();
  }
  return tc;
}

}  // namespace xbarnet::mapping
