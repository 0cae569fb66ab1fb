#include "mapping/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

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

// Word-line voltages of every input vector of the batch for one tile (K x nk, the DAC applied).
Eigen::MatrixXd tile_voltages(const Layer& layer, const Tensor& input, const Lowering& low,
                              const devices::InputMap& imap, const TileSpec& spec,
                              std::int64_t n_vec) {
  Eigen::MatrixXd v(n_vec, spec.nk);
  std::vector<double> buf(static_cast<size_t>(spec.nk));
  for (std::int64_t k = 0; k < n_vec; ++k) {
    gather(layer.shape, low, input, k, spec.k0, spec.nk, buf.data());
    for (std::int64_t i = 0; i < spec.nk; ++i) v(k, i) = imap.voltage(buf[i]);
  }
  return v;
}

// What one tile contributes, computed in parallel and merged in tile order.
struct TileWork {
  Status status;
  Eigen::MatrixXd y, y_ideal;          // K x nm digitised read-outs, weight x input units
  Eigen::VectorXd col_err2, col_ref2;  // C: sums of squared current errors and references
  Eigen::VectorXd row_loss;            // R, NaN for unused rows
  Eigen::MatrixXd ir_drop;             // R x C [V]
  TileReport report;
  double program_s = 0.0, circuit_s = 0.0, apply_s = 0.0;
  std::int64_t conversions = 0, clipped = 0, nonzero = 0;  // ADC conversions of its reads
  double full_scale = 0.0;                                 // A, of its ADC
  double reference_drop = -1.0;  // worst IR drop on the reference column / v_read
  devices::ProgrammingStats stats;
};

// The per-tile metrics of mapping/simulate.hpp from the currents and the response.
// i_sim, i_ideal: K x used columns (in used_columns() order).
void tile_metrics(const Plan& plan, const TileSpec& spec, const std::vector<Eigen::Index>& used,
                  const Eigen::MatrixXd& i_sim, const Eigen::MatrixXd& i_ideal,
                  const TileConductances& g, const TileResponse& response, TileWork& tw) {
  const std::int64_t rows = plan.options.array.rows;
  const std::int64_t cols = plan.options.array.cols;
  tw.col_err2 = Eigen::VectorXd::Zero(cols);
  tw.col_ref2 = Eigen::VectorXd::Zero(cols);
  for (size_t q = 0; q < used.size(); ++q) {
    const auto c = static_cast<Eigen::Index>(q);
    tw.col_err2(used[q]) = (i_sim.col(c) - i_ideal.col(c)).squaredNorm();
    tw.col_ref2(used[q]) = i_ideal.col(c).squaredNorm();
  }
  const double err = std::sqrt(tw.col_err2.sum()), ref = std::sqrt(tw.col_ref2.sum());
  tw.report.current_error = ref > 0.0 ? err / ref : 0.0;
  tw.row_loss = Eigen::VectorXd::Constant(rows, std::nan(""));
  if (const Eigen::MatrixXd* t = response.transfer(); t != nullptr) {
    for (std::int64_t i = 0; i < spec.nk; ++i) {
      const double gsum = g.programmed.row(i).sum();
      tw.row_loss(i) = gsum > 0.0 ? 1.0 - t->col(i).sum() / gsum : 0.0;
    }
  }
}

// The IR-drop map of a tile for the full-scale input (used rows at v_read, the others at 0 V),
// over its used cells; the solve is also the tile's health check.
Status ir_drop_map(const Plan& plan, const TileSpec& spec, double v_read, TileResponse& response,
                   TileWork& tw) {
  const std::int64_t rows = plan.options.array.rows;
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(1, rows);
  v.leftCols(spec.nk).setConstant(v_read);
  StatusOr<solver::CrossbarSolution> op = response.operating_point(v);
  if (!op.is_ok()) return op.status();
  const Eigen::MatrixXd drop = op.value().ir_drop(0, v);
  tw.ir_drop.topRows(spec.nk) = drop.topRows(spec.nk);  // unused rows (at 0 V) stay 0
  double worst = 0.0, sum = 0.0;
  const std::vector<Eigen::Index> used = used_columns(plan, spec);
  for (std::int64_t i = 0; i < spec.nk; ++i) {
    for (Eigen::Index j : used) {
      worst = std::max(worst, tw.ir_drop(i, j));
      sum += tw.ir_drop(i, j);
    }
  }
  tw.report.worst_ir_drop = worst / v_read;
  tw.report.mean_ir_drop = sum / static_cast<double>(spec.nk * used.size()) / v_read;
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

StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options, const Stages& stages,
                                    const Tensor* calibration) {
  const auto t_start = Clock::now();
  if (Status s = validate(options); !s.is_ok()) return s;
  if (Status s = validate_input(layer, input); !s.is_ok()) return s;
  if (calibration != nullptr) {
    if (Status s = validate_input(layer, *calibration); !s.is_ok()) {
      return Status::invalid_argument(fmt::format("the calibration batch: {}", s.message()));
    }
  }
  const bool range_from_batch = options.adc.range == devices::AdcRange::kCalibrated ||
                                options.adc.range == devices::AdcRange::kPercentile;
  if (range_from_batch && options.device.adc_bits > 0 && calibration == nullptr) {
    return Status::invalid_argument(fmt::format(
        "adc range = '{}' needs a calibration batch (a layer's calibration = file.npy): the ADC "
        "range is never taken from the evaluated batch itself",
        devices::to_string(options.adc.range)));
  }

  // ---- plan
  StatusOr<Plan> planned = plan(layer.shape, options.mapping, options.device.sign);
  if (!planned.is_ok()) return planned.status();
  const ExactProgramming exact;
  const DeviceProgramming devices_programming(options.variation);
  const LinearCircuitResponse linear(options.backend);
  const IdealResponse ideal_arrays;
  const devices::VariationParams& var = options.variation;
  const Programmer& programmer =
      stages.programmer != nullptr
          ? *stages.programmer
          : (real_devices(var) ? static_cast<const Programmer&>(devices_programming) : exact);
  const ResponseModel& response_model =
      stages.response != nullptr
          ? *stages.response
          : (options.ideal_only ? static_cast<const ResponseModel&>(ideal_arrays) : linear);
  const bool ir_map = options.ir_drop && !options.ideal_only;
  // Ideal arrays holding exactly their target, read in analog without noise: the simulated
  // currents are the ideal ones (the timing baseline skips the second product).
  const bool ideal_and_exact = options.ideal_only && stages.programmer == nullptr &&
                               stages.response == nullptr && !real_devices(var) &&
                               var.read_noise == 0.0 &&
                               options.device.input_encoding == devices::InputEncoding::kAnalog;

  SimulationResult result;
  LayerReport& rep = result.report;
  rep.plan = planned.value();
  rep.programming = programmer.name();
  rep.response = response_model.name();
  rep.backend = solver::to_string(options.backend);
  rep.ordering = options.ideal_only ? "none (no circuit)"
                                    : "nd (nested dissection of the cell grid, boundary last)";
  rep.ir_drop_mapped = ir_map;
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
      calibration != nullptr ? calibration->dim(0) * low.positions_per_sample : 0;
  {
    const std::int64_t out_per_sample = [&] {
      std::int64_t n = 1;
      for (std::int64_t d : output_shape(layer.shape, 1)) n *= d;
      return n;
    }();
    const double need = estimate_simulation_bytes(
        pl, input.dim(0), out_per_sample, core::capped_threads(options.threads), options.ideal_only,
        side_of(options.correction.scheme) == Side::kProgramming, n_cal);
    const double limit = core::effective_memory_limit(options.memory_limit);
    if (need > limit) {
      return Status::invalid_argument(fmt::format(
          "the run needs about {:.3g} GB ({} tiles of {} x {} cells, {} input vectors per tile, "
          "{} thread(s)), more than the memory limit of {:.3g} GB (memory_limit; 0 = half of "
          "the machine's memory): use smaller arrays, a smaller batch or fewer threads",
          need / 1e9, pl.tiles.size(), pl.options.array.rows, pl.options.array.cols,
          input.dim(0) * low.positions_per_sample, core::capped_threads(options.threads),
          limit / 1e9));
    }
  }
  const LoweredWeights lw = lowered_weights(layer, low);
  const std::int64_t rows = pl.options.array.rows;
  const std::int64_t cols = pl.options.array.cols;
  // The input scale comes from the calibration batch when there is one (then it does not
  // depend on the evaluated batch); the weight scale from the weights.
  const Scales sc = scales_of(layer, calibration != nullptr ? *calibration : input);
  rep.w_max = sc.w_max;
  rep.x_max = sc.x_max;
  rep.calibrated = calibration != nullptr;
  if (calibration != nullptr) {
    if (!(sc.x_max > 0.0)) {
      return Status::invalid_argument(
          "the calibration batch is all zeros: it gives no input scale (its largest |x| must be "
          "> 0)");
    }
    // Inputs the DAC cannot represent: beyond the calibration's largest |x|, and negative ones
    // when the calibration batch has none (its DAC is unsigned).
    for (double x : input.data) {
      rep.inputs_clipped += (std::abs(x) > sc.x_max || (x < 0.0 && !sc.signed_inputs)) ? 1 : 0;
    }
  }
  const devices::WeightMap wmap(options.device, sc.w_max);
  const devices::InputMap imap(options.device, sc.x_max, sc.signed_inputs);
  const double to_weight_units = 1.0 / (wmap.scale() * imap.volts_per_unit());
  const Adc adc{options.device.adc_bits};
  const Side correction_side = side_of(options.correction.scheme);
  rep.correction.scheme = corrections::to_string(options.correction.scheme);
  const std::vector<double> bias = bias_per_output(layer, low);
  const std::int64_t n_vec = input.dim(0) * low.positions_per_sample;
  rep.input_vectors = n_vec;
  rep.seconds.map = seconds_since(t_start);

  Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(n_vec, low.outputs);
  Eigen::MatrixXd acc_ideal = Eigen::MatrixXd::Zero(n_vec, low.outputs);
  Eigen::VectorXd col_err2 = Eigen::VectorXd::Zero(cols), col_ref2 = Eigen::VectorXd::Zero(cols);
  Eigen::VectorXd row_loss = Eigen::VectorXd::Zero(rows), row_count = Eigen::VectorXd::Zero(rows);

  const auto n_tiles = static_cast<std::int64_t>(pl.tiles.size());
  const int threads = core::capped_threads(options.threads);
  rep.threads = threads;
  const std::int64_t wave = std::int64_t{threads} * 2;
  for (std::int64_t t0 = 0; t0 < n_tiles; t0 += wave) {
    const std::int64_t t1 = std::min(n_tiles, t0 + wave);
    std::vector<TileWork> work(static_cast<size_t>(t1 - t0));
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (std::int64_t t = t0; t < t1; ++t) {
      TileWork& tw = work[t - t0];
      const TileSpec& spec = pl.tiles[t];
      const TileContext ctx{pl, spec, t, options.parasitics, options.device, wmap};
      const auto tile_start = Clock::now();

      // ---- program (and correct on the programming side): the target, and what the array holds
      TileConductances g;
      corrections::TileCorrection corr;
      const std::vector<Eigen::Index> used = used_columns(pl, spec);
      if (tw.status = program_tile(ctx, lw, options, programmer, g, corr); !tw.status.is_ok()) {
        continue;
      }
      tw.stats = g.stats;
      tw.program_s = seconds_since(tile_start);

      // ---- respond: the programmed circuit (and its IR-drop map, which checks it)
      const auto t_circ = Clock::now();
      StatusOr<std::unique_ptr<TileResponse>> prepared = response_model.prepare(
          netlists::Crossbar::uniform(g.programmed, options.parasitics), ctx, ir_map);
      if (!prepared.is_ok()) {
        tw.status = prepared.status();
        continue;
      }
      TileResponse& response = *prepared.value();
      tw.ir_drop = Eigen::MatrixXd::Zero(rows, cols);
      if (ir_map) {
        if (tw.status = ir_drop_map(pl, spec, options.device.v_read, response, tw);
            !tw.status.is_ok()) {
          continue;
        }
      }
      tw.report.health = response.health();
      tw.circuit_s = seconds_since(t_circ);

      // ---- correct, read side: from the array as programmed, measured by calibration reads
      // (column gains, input scaling); without a correction, the same report of the tile's T
      // error as it is, for comparison
      if (correction_side != Side::kProgramming) {
        const Eigen::MatrixXd* measured = response.transfer();
        if (measured == nullptr && correction_side == Side::kRead) {
          tw.status = Status::invalid_argument(
              fmt::format("correction scheme '{}' needs the tile's transfer matrix (a linear tile)",
                          corrections::to_string(options.correction.scheme)));
          continue;
        }
        if (measured != nullptr) {
          StatusOr<corrections::TileCorrection> c = corrections::correct_tile(
              tile_problem(ctx, g.target, options), correction_params(options), measured);
          if (!c.is_ok()) {
            tw.status = c.status();
            continue;
          }
          corr = std::move(c).value();
          tw.report.correction = corr.report;
        }
      }
      ReadSide side;
      if (correction_side == Side::kProgramming) {
        // The target scale beta, undone after the ADC (its gain is uniform over the columns).
        const Eigen::VectorXd gain = corr.column_gain(used);
        XBARNET_ASSERT((gain.array() == gain(0)).all(),
                       "a write-side correction's gain is one scalar per tile");
        side.digital_gain = gain(0);
        tw.report.correction = corr.report;
      } else if (correction_side == Side::kRead) {
        side.column_gain = corr.column_gain(used);
        side.row_scale = corr.row_scale.head(spec.nk);
      }
      if (pl.sign == devices::SignScheme::kReference && ir_map) {
        tw.reference_drop =
            tw.ir_drop.col(cols - 1).head(spec.nk).maxCoeff() / options.device.v_read;
      }

      // Every input vector of the batch through the tile at once; the ideal from the target.
      const auto t_apply = Clock::now();
      const Eigen::MatrixXd v = tile_voltages(layer, input, low, imap, spec, n_vec);
      Eigen::MatrixXd g_used(spec.nk, static_cast<Eigen::Index>(used.size()));
      for (size_t q = 0; q < used.size(); ++q) {
        g_used.col(static_cast<Eigen::Index>(q)) = g.target.col(used[q]).head(spec.nk);
      }
      const Eigen::MatrixXd i_ideal = v * g_used;
      tw.y_ideal = read_out(i_ideal, pl, spec);

      // ---- read (the read side's corrections, the input encoding, read noise), read out,
      // digitise; the ideal reference keeps analog reads and an ideal ADC
      ReadPerturbation noise;
      if (var.read_noise > 0.0) {
        // Per read, from the rows of T of the used columns (devices::read_noise_rms).
        const Eigen::MatrixXd* t_full = response.transfer();
        Eigen::MatrixXd coupling(spec.nk, static_cast<Eigen::Index>(used.size()));
        for (size_t q = 0; q < used.size(); ++q) {
          coupling.col(static_cast<Eigen::Index>(q)) =
              t_full != nullptr ? t_full->row(used[q]).head(spec.nk).transpose().eval()
                                : g.programmed.col(used[q]).head(spec.nk).eval();
        }
        noise = [&var, coupling, t](Eigen::MatrixXd& i, const Eigen::MatrixXd& vr, int read) {
          devices::add_read_noise(i, devices::read_noise_rms(vr, coupling), var,
                                  devices::combine_streams(static_cast<std::uint64_t>(t),
                                                           static_cast<std::uint64_t>(read)));
        };
      }
      // The ADC's range: from the array's bound, a fixed value, or the read-outs of the
      // calibration batch through this tile (noise-free reads), never from the evaluated batch.
      std::vector<double> cal_read_outs;
      if (range_from_batch && adc.bits > 0) {
        const Eigen::MatrixXd vc = tile_voltages(layer, *calibration, low, imap, spec, n_cal);
        read_tile(pl, spec, response, vc, side, options.device, Adc{}, 0.0, {}, &cal_read_outs);
        if (options.device.input_encoding == devices::InputEncoding::kBitSerial) {
          // The reads of unset bits are exact zeros: they would pull a percentile down.
          std::erase(cal_read_outs, 0.0);
        }
      }
      const bool differential = pl.sign == devices::SignScheme::kDifferential;
      const double bound = devices::bound_full_scale(
          spec.nk, options.device.v_read, differential ? wmap.g_min() : wmap.g_ref(), wmap.g_max());
      StatusOr<double> full_scale = devices::adc_full_scale(options.adc, cal_read_outs, bound);
      if (adc.bits > 0 && !full_scale.is_ok()) {
        tw.status = full_scale.status();
        continue;
      }
      tw.full_scale = adc.bits > 0 ? full_scale.value() : 0.0;
      TileReads reads;
      if (ideal_and_exact) {
        reads.current = i_ideal;
        reads.y = tw.y_ideal;
        reads.conversions = reads.y.size();
        reads.nonzero = static_cast<std::int64_t>((reads.y.array() != 0.0).count());
        reads.clipped = adc.apply(reads.y, tw.full_scale);
      } else {
        reads = read_tile(pl, spec, response, v, side, options.device, adc, tw.full_scale, noise);
      }
      tw.apply_s = seconds_since(t_apply);
      tile_metrics(pl, spec, used, reads.current, i_ideal, g, response, tw);
      tw.y = std::move(reads.y);
      tw.conversions = reads.conversions;
      tw.clipped = reads.clipped;
      tw.nonzero = reads.nonzero;
      tw.y *= to_weight_units;
      tw.y_ideal *= to_weight_units;
      tw.report.spec = spec;
      tw.report.seconds = seconds_since(tile_start);
    }
    // ---- merge, in tile order: the result does not depend on the thread count
    for (std::int64_t t = t0; t < t1; ++t) {
      TileWork& tw = work[t - t0];
      const TileSpec& spec = pl.tiles[t];
      if (!tw.status.is_ok()) {
        return Status(tw.status.code(), fmt::format("tile {} (rows {}..{}, outputs {}..{}): {}", t,
                                                    spec.k0, spec.k0 + spec.nk - 1, spec.m0,
                                                    spec.m0 + spec.nm - 1, tw.status.message()));
      }
      merge_tile(pl, spec, tw.y, bias, acc);
      merge_tile(pl, spec, tw.y_ideal, bias, acc_ideal);
      col_err2 += tw.col_err2;
      col_ref2 += tw.col_ref2;
      for (std::int64_t i = 0; i < rows; ++i) {
        if (!std::isnan(tw.row_loss(i))) {
          row_loss(i) += tw.row_loss(i);
          row_count(i) += 1.0;
        }
      }
      rep.seconds.program += tw.program_s;
      rep.seconds.circuit += tw.circuit_s;
      rep.seconds.apply += tw.apply_s;
      rep.adc_conversions += tw.conversions;
      rep.adc_clipped += tw.clipped;
      rep.adc_nonzero += tw.nonzero;
      rep.adc_full_scale_min =
          t == 0 ? tw.full_scale : std::min(rep.adc_full_scale_min, tw.full_scale);
      rep.adc_full_scale_max = std::max(rep.adc_full_scale_max, tw.full_scale);
      rep.programming_stats += tw.stats;
      rep.reference_worst_ir_drop = std::max(rep.reference_worst_ir_drop, tw.reference_drop);
      add_correction(tw.report.correction, rep.correction);
      rep.worst_residual = std::max(rep.worst_residual, tw.report.health.residual);
      rep.tiny_shorts += tw.report.health.tiny_shorts;
      rep.worst_transfer_check =
          std::max(rep.worst_transfer_check, tw.report.health.transfer_check);
      if (rep.worst_tile < 0 || tw.report.worst_ir_drop > rep.tiles[rep.worst_tile].worst_ir_drop) {
        rep.worst_tile = t;
        rep.worst_ir_drop = tw.ir_drop;
      }
      rep.tiles.push_back(tw.report);
    }
  }

  rep.adc_energy = static_cast<double>(rep.adc_conversions) *
                   devices::conversion_energy(options.adc, options.device.adc_bits);
  if (adc.bits > 0 && rep.adc_nonzero > 0 && rep.adc_clipped >= rep.adc_nonzero) {
    return Status::invalid_argument(fmt::format(
        "adc range = '{}' (full scale {:.4g} .. {:.4g} A) clips every one of the {} non-zero "
        "read-outs: the range must cover the outputs (a larger full_scale, or range = 'bound' or "
        "'calibrated')",
        devices::to_string(options.adc.range), rep.adc_full_scale_min, rep.adc_full_scale_max,
        rep.adc_nonzero));
  }

  // ---- stitch: bias, activation, each output to its place; the layer's metrics
  const auto t_stitch = Clock::now();
  // Without an activation (and without a majority merge) the outputs are the pre-activations.
  const bool outputs_are_macs =
      layer.activation == Activation::kNone &&
      !(pl.options.scheme == Scheme::kInputSplit && pl.options.merge == Merge::kMajority);
  Tensor pre, pre_ideal;
  result.simulated = stitch(layer, pl, acc, bias, input.dim(0), outputs_are_macs ? nullptr : &pre);
  result.ideal =
      stitch(layer, pl, acc_ideal, bias, input.dim(0), outputs_are_macs ? nullptr : &pre_ideal);
  for (double y : result.simulated.data) {
    if (!std::isfinite(y)) {
      return Status::invalid_argument(fmt::format(
          "a simulated output is {}: refused rather than reported (the parameters drive the "
          "arrays outside what double precision holds)",
          y));
    }
  }
  const OutputErrors out = compare_outputs(result.simulated, result.ideal);
  const OutputErrors mac = outputs_are_macs ? out : compare_outputs(pre, pre_ideal);
  rep.rmse = out.rmse;
  rep.ideal_rms = out.ideal_rms;
  rep.relative_rmse = out.ideal_rms > 0.0 ? out.rmse / out.ideal_rms : 0.0;
  rep.max_abs_error = out.max_abs;
  rep.max_rel_error = out.max_relative;
  rep.mac_rmse = mac.rmse;
  rep.mac_max_rel_error = mac.max_relative;
  rep.error_by_column.resize(static_cast<size_t>(cols));
  for (std::int64_t j = 0; j < cols; ++j) {
    rep.error_by_column[j] = col_ref2(j) > 0.0 ? std::sqrt(col_err2(j) / col_ref2(j)) : 0.0;
  }
  if (pl.sign == devices::SignScheme::kReference) {
    rep.reference_current_error =
        col_ref2(cols - 1) > 0.0 ? std::sqrt(col_err2(cols - 1) / col_ref2(cols - 1)) : 0.0;
  }
  if (!rep.tiles.empty()) {
    rep.correction.error_before_mean /= static_cast<double>(rep.tiles.size());
    rep.correction.error_after_mean /= static_cast<double>(rep.tiles.size());
  }
  rep.loss_by_row.resize(static_cast<size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    rep.loss_by_row[i] = row_count(i) > 0.0 ? row_loss(i) / row_count(i) : 0.0;
  }
  double mean_drop = 0.0;
  for (const TileReport& t : rep.tiles) {
    rep.worst_ir_drop_fraction = std::max(rep.worst_ir_drop_fraction, t.worst_ir_drop);
    mean_drop += t.mean_ir_drop;
  }
  rep.mean_ir_drop_fraction =
      rep.tiles.empty() ? 0.0 : mean_drop / static_cast<double>(rep.tiles.size());
  rep.seconds.stitch = seconds_since(t_stitch);
  if (&response_model == &linear) rep.analyses = linear.analyses();
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
