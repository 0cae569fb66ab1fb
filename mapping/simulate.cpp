#include "mapping/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "solver/crossbar_system.hpp"

namespace xbarnet::mapping {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The R x C conductances of a tile: the mapped weights in the used rows and columns, G_min
// everywhere else (and G_ref in the reference column of the used rows).
Eigen::MatrixXd program(const Plan& plan, const LoweredWeights& lw, const devices::WeightMap& map,
                        const TileSpec& t) {
  const std::int64_t rows = plan.options.array.rows;
  const std::int64_t cols = plan.options.array.cols;
  const bool differential = plan.sign == devices::SignScheme::kDifferential;
  Eigen::MatrixXd g = Eigen::MatrixXd::Constant(rows, cols, map.g_min());
  for (std::int64_t q = 0; q < t.nm; ++q) {
    for (std::int64_t r = 0; r < t.nk; ++r) {
      const bool present = lw.present(t.m0 + q, t.k0 + r) != 0;
      const double w = lw.w(t.m0 + q, t.k0 + r);
      if (differential) {
        const auto [gp, gn] = present ? map.pair(w) : std::pair{map.g_min(), map.g_min()};
        g(r, 2 * q) = gp;
        g(r, 2 * q + 1) = gn;
      } else {
        g(r, q) = present ? map.single(w) : map.g_ref();
      }
    }
  }
  if (!differential) g.col(cols - 1).head(t.nk).setConstant(map.g_ref());
  return g;
}

netlists::Crossbar circuit(const Eigen::MatrixXd& g, const Parasitics& p) {
  return netlists::Crossbar::uniform(g, p.r_source, p.r_wordline, p.r_bitline, p.r_neuron);
}

// Differential read-out of the used columns: (I+ - I-) per output, or I_j - I_ref.
Eigen::MatrixXd read_out(const Eigen::MatrixXd& current, std::int64_t nm, bool differential,
                         std::int64_t cols) {
  Eigen::MatrixXd y(current.rows(), nm);
  for (std::int64_t q = 0; q < nm; ++q) {
    y.col(q) = differential ? (current.col(2 * q) - current.col(2 * q + 1)).eval()
                            : (current.col(q) - current.col(cols - 1)).eval();
  }
  return y;
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

struct TileWork {
  Status status;
  Eigen::MatrixXd y, y_ideal;  // P x nm, weight x input units
  Eigen::VectorXd col_err2, col_ref2;
  Eigen::VectorXd row_loss;  // R, NaN for unused rows
  Eigen::MatrixXd ir_drop;   // R x C [V]
  TileReport report;
  double program_s = 0.0, circuit_s = 0.0, apply_s = 0.0;
};

}  // namespace

Status validate(const SimulationOptions& o) {
  if (Status s = validate(o.mapping); !s.is_ok()) return s;
  if (Status s = devices::validate(o.device); !s.is_ok()) return s;
  const Parasitics& p = o.parasitics;
  for (auto [name, v] : {std::pair{"r_source", p.r_source},
                         {"r_wordline", p.r_wordline},
                         {"r_bitline", p.r_bitline},
                         {"r_neuron", p.r_neuron}}) {
    if (!std::isfinite(v) || v < 0.0) {
      return Status::invalid_argument(
          fmt::format("{} = {} ohm: must be finite and >= 0 (0 = ideal element)", name, v));
    }
  }
  if (o.threads < 1)
    return Status::invalid_argument(fmt::format("threads = {}: must be >= 1", o.threads));
  return Status::ok();
}

StatusOr<SimulationResult> simulate(const Layer& layer, const Tensor& input,
                                    const SimulationOptions& options) {
  const auto t_start = Clock::now();
  if (Status s = validate(options); !s.is_ok()) return s;
  if (Status s = validate_input(layer, input); !s.is_ok()) return s;
  StatusOr<Plan> planned = plan(layer.shape, options.mapping, options.device.sign);
  if (!planned.is_ok()) return planned.status();
  SimulationResult result;
  LayerReport& rep = result.report;
  rep.plan = planned.value();
  const Plan& pl = rep.plan;
  const Lowering& low = pl.lowering;
  const LoweredWeights lw = lowered_weights(layer, low);
  const std::int64_t rows = pl.options.array.rows;
  const std::int64_t cols = pl.options.array.cols;
  const bool differential = pl.sign == devices::SignScheme::kDifferential;
  const bool majority =
      pl.options.scheme == Scheme::kInputSplit && pl.options.merge == Merge::kMajority;

  const Scales sc = scales_of(layer, input);
  rep.w_max = sc.w_max;
  rep.x_max = sc.x_max;
  const devices::WeightMap wmap(options.device, sc.w_max);
  const devices::InputMap imap(options.device, sc.x_max, sc.signed_inputs);
  const double to_weight_units = 1.0 / (wmap.scale() * imap.volts_per_unit());
  const std::int64_t n_vec = input.dim(0) * low.positions_per_sample;
  const std::int64_t m_out = low.outputs;
  rep.input_vectors = n_vec;
  rep.seconds.map = seconds_since(t_start);

  Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(n_vec, m_out);
  Eigen::MatrixXd acc_ideal = Eigen::MatrixXd::Zero(n_vec, m_out);
  Eigen::VectorXd col_err2 = Eigen::VectorXd::Zero(cols), col_ref2 = Eigen::VectorXd::Zero(cols);
  Eigen::VectorXd row_loss = Eigen::VectorXd::Zero(rows), row_count = Eigen::VectorXd::Zero(rows);
  auto bias_of = [&](std::int64_t m) -> double {
    if (layer.bias.empty()) return 0.0;
    // Sub-image outputs are (channel, oy, ox): the bias belongs to the channel.
    return layer.bias[low.subimage == 0 ? m : m / (low.subimage * low.subimage)];
  };

  const auto n_tiles = static_cast<std::int64_t>(pl.tiles.size());
  const std::int64_t wave = std::max<std::int64_t>(options.threads, 1) * 2;
  for (std::int64_t t0 = 0; t0 < n_tiles; t0 += wave) {
    const std::int64_t t1 = std::min(n_tiles, t0 + wave);
    std::vector<TileWork> work(static_cast<size_t>(t1 - t0));
#pragma omp parallel for num_threads(options.threads) schedule(dynamic)
    for (std::int64_t t = t0; t < t1; ++t) {
      TileWork& tw = work[t - t0];
      const TileSpec& spec = pl.tiles[t];
      const auto tile_start = Clock::now();
      const Eigen::MatrixXd g = program(pl, lw, wmap, spec);
      tw.program_s = seconds_since(tile_start);

      auto t_circ = Clock::now();
      const netlists::Crossbar xbar = circuit(g, options.parasitics);
      Eigen::MatrixXd tmat;
      const std::int64_t used_cols = differential ? 2 * spec.nm : cols;
      tw.ir_drop = Eigen::MatrixXd::Zero(rows, cols);
      if (options.ideal_only) {
        tmat = g.transpose();
      } else {
        solver::SystemOptions so;
        so.backend = options.backend;
        so.mode = solver::Mode::kTransfer;
        StatusOr<solver::CrossbarSystem> sys = solver::CrossbarSystem::assemble(xbar, so);
        Status st = sys.is_ok() ? sys.value().analyze() : sys.status();
        if (st.is_ok()) st = sys.value().factorize();
        StatusOr<solver::TransferMatrix> tm =
            st.is_ok() ? sys.value().transfer_matrix() : StatusOr<solver::TransferMatrix>(st);
        if (!tm.is_ok()) {
          tw.status = tm.status();
          continue;
        }
        tmat = std::move(tm.value().t);
        if (options.ir_drop) {
          // IR-drop map for the full-scale input: every used row at v_read, unused rows at 0 V.
          Eigen::MatrixXd v = Eigen::MatrixXd::Zero(1, rows);
          v.leftCols(spec.nk).setConstant(options.device.v_read);
          solver::SolveOptions vo;
          vo.node_voltages = true;
          StatusOr<solver::CrossbarSolution> run = sys.value().solve(v, vo);
          if (!run.is_ok()) {
            tw.status = run.status();
            continue;
          }
          const Eigen::MatrixXd cell = run.value().cell_voltage(0);
          for (std::int64_t i = 0; i < spec.nk; ++i) {
            tw.ir_drop.row(i) = (options.device.v_read - cell.row(i).array()).matrix();
          }
          const Eigen::MatrixXd used = tw.ir_drop.topLeftCorner(spec.nk, used_cols);
          tw.report.worst_ir_drop = used.maxCoeff() / options.device.v_read;
          tw.report.mean_ir_drop = used.mean() / options.device.v_read;
        }
      }
      tw.circuit_s = seconds_since(t_circ);

      // Every input vector of the batch through the tile at once.
      const auto t_apply = Clock::now();
      Eigen::MatrixXd v(n_vec, spec.nk);
      std::vector<double> buf(static_cast<size_t>(spec.nk));
      for (std::int64_t k = 0; k < n_vec; ++k) {
        gather(layer.shape, low, input, k, spec.k0, spec.nk, buf.data());
        for (std::int64_t i = 0; i < spec.nk; ++i) v(k, i) = imap.voltage(buf[i]);
      }
      const Eigen::MatrixXd i_ideal = v * g.topLeftCorner(spec.nk, used_cols);
      const Eigen::MatrixXd i_sim =
          options.ideal_only
              ? i_ideal
              : Eigen::MatrixXd(v * tmat.topLeftCorner(used_cols, spec.nk).transpose());
      tw.apply_s = seconds_since(t_apply);

      tw.col_err2 = Eigen::VectorXd::Zero(cols);
      tw.col_ref2 = Eigen::VectorXd::Zero(cols);
      tw.col_err2.head(used_cols) = (i_sim - i_ideal).colwise().squaredNorm().transpose();
      tw.col_ref2.head(used_cols) = i_ideal.colwise().squaredNorm().transpose();
      const double err = std::sqrt(tw.col_err2.sum()), ref = std::sqrt(tw.col_ref2.sum());
      tw.report.current_error = ref > 0.0 ? err / ref : 0.0;
      tw.row_loss = Eigen::VectorXd::Constant(rows, std::nan(""));
      for (std::int64_t i = 0; i < spec.nk; ++i) {
        const double gsum = g.row(i).sum();
        tw.row_loss(i) = gsum > 0.0 ? 1.0 - tmat.col(i).sum() / gsum : 0.0;
      }

      tw.y = read_out(i_sim, spec.nm, differential, cols);
      tw.y_ideal = read_out(i_ideal, spec.nm, differential, cols);
      if (options.device.adc_bits > 0) {
        const double full_scale = tw.y_ideal.cwiseAbs().maxCoeff();
        tw.y = tw.y.unaryExpr(
            [&](double y) { return devices::adc(y, options.device.adc_bits, full_scale); });
      }
      tw.y *= to_weight_units;
      tw.y_ideal *= to_weight_units;
      tw.report.spec = spec;
      tw.report.seconds = seconds_since(tile_start);
    }
    // Add the contributions in tile order: the result does not depend on the thread count.
    for (std::int64_t t = t0; t < t1; ++t) {
      TileWork& tw = work[t - t0];
      const TileSpec& spec = pl.tiles[t];
      if (!tw.status.is_ok()) {
        return Status(tw.status.code(), fmt::format("tile {} (rows {}..{}, outputs {}..{}): {}", t,
                                                    spec.k0, spec.k0 + spec.nk - 1, spec.m0,
                                                    spec.m0 + spec.nm - 1, tw.status.message()));
      }
      if (majority) {
        const double share = 1.0 / static_cast<double>(pl.groups);
        for (std::int64_t q = 0; q < spec.nm; ++q) {
          const double b = bias_of(spec.m0 + q) * share;
          for (std::int64_t k = 0; k < n_vec; ++k) {
            acc(k, spec.m0 + q) += tw.y(k, q) + b >= 0.0 ? 1.0 : -1.0;
            acc_ideal(k, spec.m0 + q) += tw.y_ideal(k, q) + b >= 0.0 ? 1.0 : -1.0;
          }
        }
      } else {
        acc.middleCols(spec.m0, spec.nm) += tw.y;
        acc_ideal.middleCols(spec.m0, spec.nm) += tw.y_ideal;
      }
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
      rep.adc_conversions += n_vec * spec.nm;
      if (rep.worst_tile < 0 || tw.report.worst_ir_drop > rep.tiles[rep.worst_tile].worst_ir_drop) {
        rep.worst_tile = t;
        rep.worst_ir_drop = tw.ir_drop;
      }
      rep.tiles.push_back(tw.report);
    }
  }

  // Stitch: bias, activation, and each output to its place in the output tensor.
  const auto t_stitch = Clock::now();
  result.simulated.shape = output_shape(layer.shape, input.dim(0));
  result.simulated.data.assign(static_cast<size_t>(result.simulated.size()), 0.0);
  result.ideal = result.simulated;
  double se = 0.0, se_mac = 0.0, ref2 = 0.0, max_ideal = 0.0, max_ideal_mac = 0.0;
  double max_err_mac = 0.0;
  std::int64_t count = 0;
  for (std::int64_t m = 0; m < m_out; ++m) {
    const double b = bias_of(m);
    for (std::int64_t k = 0; k < n_vec; ++k) {
      const std::int64_t at = scatter(layer.shape, low, k, m);
      if (at < 0) continue;
      double pre = acc(k, m), pre_ideal = acc_ideal(k, m);
      double out, out_ideal;
      if (majority) {
        out = pre >= 0.0 ? 1.0 : -1.0;
        out_ideal = pre_ideal >= 0.0 ? 1.0 : -1.0;
        pre = out;
        pre_ideal = out_ideal;
      } else {
        pre += b;
        pre_ideal += b;
        out = apply_activation(layer.activation, pre);
        out_ideal = apply_activation(layer.activation, pre_ideal);
      }
      result.simulated.data[at] = out;
      result.ideal.data[at] = out_ideal;
      const double e = out - out_ideal;
      se += e * e;
      ref2 += out_ideal * out_ideal;
      rep.max_abs_error = std::max(rep.max_abs_error, std::abs(e));
      max_ideal = std::max(max_ideal, std::abs(out_ideal));
      se_mac += (pre - pre_ideal) * (pre - pre_ideal);
      max_err_mac = std::max(max_err_mac, std::abs(pre - pre_ideal));
      max_ideal_mac = std::max(max_ideal_mac, std::abs(pre_ideal));
      ++count;
    }
  }
  const double n = static_cast<double>(std::max<std::int64_t>(count, 1));
  rep.rmse = std::sqrt(se / n);
  rep.ideal_rms = std::sqrt(ref2 / n);
  rep.max_rel_error = max_ideal > 0.0 ? rep.max_abs_error / max_ideal : 0.0;
  rep.mac_rmse = std::sqrt(se_mac / n);
  rep.mac_max_rel_error = max_ideal_mac > 0.0 ? max_err_mac / max_ideal_mac : 0.0;
  rep.error_by_column.resize(static_cast<size_t>(cols));
  for (std::int64_t j = 0; j < cols; ++j) {
    rep.error_by_column[j] = col_ref2(j) > 0.0 ? std::sqrt(col_err2(j) / col_ref2(j)) : 0.0;
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
  rep.seconds.total = seconds_since(t_start);
  return result;
}

StatusOr<TileCircuit> tile_circuit(const Layer& layer, const Tensor& input,
                                   const SimulationOptions& options, std::int64_t tile,
                                   std::int64_t vector) {
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
  const Scales sc = scales_of(layer, input);
  const devices::WeightMap wmap(options.device, sc.w_max);
  const devices::InputMap imap(options.device, sc.x_max, sc.signed_inputs);
  TileCircuit tc;
  tc.spec = pl.tiles[tile];
  tc.xbar =
      circuit(program(pl, lowered_weights(layer, pl.lowering), wmap, tc.spec), options.parasitics);
  tc.inputs = Eigen::MatrixXd::Zero(1, pl.options.array.rows);
  std::vector<double> buf(static_cast<size_t>(tc.spec.nk));
  gather(layer.shape, pl.lowering, input, vector, tc.spec.k0, tc.spec.nk, buf.data());
  for (std::int64_t i = 0; i < tc.spec.nk; ++i) tc.inputs(0, i) = imap.voltage(buf[i]);
  return tc;
}

}  // namespace xbarnet::mapping
