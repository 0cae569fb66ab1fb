#include "mapping/stages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <optional>

namespace xbarnet::mapping {

namespace {

bool differential(const Plan& plan) { return plan.sign == devices::SignScheme::kDifferential; }

}  // namespace

// ------------------------------------------------------------------------------------ program

Eigen::MatrixXd target_conductances(const Plan& plan, const LoweredWeights& lw,
                                    const devices::WeightMap& map, const TileSpec& t) {
  const std::int64_t rows = plan.options.array.rows;
  const std::int64_t cols = plan.options.array.cols;
  XBARNET_ASSERT(t.nk <= rows && t.m0 + t.nm <= lw.w.rows() && t.k0 + t.nk <= lw.w.cols(),
                 "tile outside the lowered weights or the array");
  Eigen::MatrixXd g = Eigen::MatrixXd::Constant(rows, cols, map.g_min());
  for (std::int64_t q = 0; q < t.nm; ++q) {
    for (std::int64_t r = 0; r < t.nk; ++r) {
      const bool present = lw.present(t.m0 + q, t.k0 + r) != 0;
      const double w = lw.w(t.m0 + q, t.k0 + r);
      if (differential(plan)) {
        const auto [gp, gn] = present ? map.pair(w) : std::pair{map.g_min(), map.g_min()};
        g(r, 2 * q) = gp;
        g(r, 2 * q + 1) = gn;
      } else {
        g(r, q) = present ? map.single(w) : map.g_ref();
      }
    }
  }
  if (!differential(plan)) g.col(cols - 1).head(t.nk).setConstant(map.g_ref());
  return g;
}

Status ExactProgramming::program(const TileContext& /*tile*/, TileConductances& g) const {
  g.programmed = g.intended;
  return Status::ok();
}

Status DeviceProgramming::program(const TileContext& tile, TileConductances& g) const {
  g.programmed =
      devices::program_conductances(g.intended, tile.weights.g_min(), tile.weights.g_max(),
                                    variation_, static_cast<std::uint64_t>(tile.index), &g.stats);
  return Status::ok();
}

// ------------------------------------------------------------------------------------ respond

namespace {

// K x n voltages (rows n.. at 0 V) through the given rows of T (C x R): K x columns.size().
Eigen::MatrixXd apply_transfer(const Eigen::MatrixXd& t, const Eigen::MatrixXd& v,
                               const std::vector<Eigen::Index>& columns) {
  const Eigen::Index n = v.cols();
  Eigen::MatrixXd tu(static_cast<Eigen::Index>(columns.size()), n);
  for (size_t q = 0; q < columns.size(); ++q)
    tu.row(static_cast<Eigen::Index>(q)) = t.row(columns[q]).head(n);
  return v * tu.transpose();
}

std::vector<Eigen::Index> all_columns(Eigen::Index c) {
  std::vector<Eigen::Index> cols(static_cast<size_t>(c));
  for (Eigen::Index j = 0; j < c; ++j) cols[j] = j;
  return cols;
}

// A linear tile described by its transfer matrix (C x R).
class TransferTile : public TileResponse {
 public:
  TransferTile(Eigen::MatrixXd t, TileHealth health)
      : t_(std::move(t)), health_(std::move(health)) {}
  Eigen::MatrixXd currents(const Eigen::MatrixXd& v,
                           const std::vector<Eigen::Index>& columns) const override {
    return apply_transfer(t_, v, columns);
  }
  const Eigen::MatrixXd* transfer() const override { return &t_; }
  const TileHealth& health() const override { return health_; }

 protected:
  Eigen::MatrixXd t_;
  TileHealth health_;
};

}  // namespace

// Analyzed systems by circuit layout (size and every parasitic resistance): one prototype per
// layout, analyzed once, and the systems of finished tiles, ready to be re-stamped.
class LinearCircuitResponse::Pool {
 public:
  explicit Pool(solver::Backend backend) : backend_(backend) {}

  struct Lease {
    solver::CrossbarSystem system;  // cells stamped, analyzed, not yet factorized
    bool pooled;                    // of the prototype's pattern: goes back to the pool after
  };

  Status make_prototype_for(const netlists::Crossbar& circuit) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (prototype_ && same_layout(prototype_->crossbar(), circuit)) return Status::ok();
    free_.clear();
    prototype_.reset();
    StatusOr<solver::CrossbarSystem> made = analyzed(circuit);  // under the lock: once per layout
    if (!made.is_ok()) return made.status();
    prototype_.emplace(std::move(made).value());
    return Status::ok();
  }

  StatusOr<Lease> acquire(const netlists::Crossbar& circuit) {
    if (Status s = make_prototype_for(circuit); !s.is_ok()) return s;
    std::optional<solver::CrossbarSystem> sys;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      // (Another thread may have replaced the prototype meanwhile: then a system of our own.)
      if (prototype_ && same_layout(prototype_->crossbar(), circuit)) {
        if (free_.empty()) {
          sys.emplace(prototype_->clone());
        } else {
          sys.emplace(std::move(free_.back()));
          free_.pop_back();
        }
      }
    }
    if (sys && sys->set_conductances(circuit.conductance).is_ok()) {
      return Lease{std::move(*sys), true};
    }
    // These cells would merge other resistances as shorts (or the layout changed under us): a
    // pattern of their own, which does not go back to the pool. The pooled system does.
    if (sys) release(std::move(*sys));
    StatusOr<solver::CrossbarSystem> own = analyzed(circuit);
    if (!own.is_ok()) return own.status();
    return Lease{std::move(own).value(), false};
  }

  // A finished tile's pooled system, for the next tile of the same layout.
  void release(solver::CrossbarSystem sys) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (prototype_ && same_layout(prototype_->crossbar(), sys.crossbar())) {
      free_.push_back(std::move(sys));
    }
  }

  int analyses() const { return analyses_.load(); }

 private:
  static bool same_layout(const netlists::Crossbar& a, const netlists::Crossbar& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && a.r_source == b.r_source &&
           a.r_wordline == b.r_wordline && a.r_bitline == b.r_bitline && a.r_neuron == b.r_neuron;
  }
  StatusOr<solver::CrossbarSystem> analyzed(const netlists::Crossbar& circuit) {
    solver::SystemOptions so;
    so.backend = backend_;
    so.mode = solver::Mode::kTransfer;
    StatusOr<solver::CrossbarSystem> system = solver::CrossbarSystem::assemble(circuit, so);
    if (!system.is_ok()) return system.status();
    if (Status s = system.value().analyze(); !s.is_ok()) return s;
    ++analyses_;
    return system;
  }

  solver::Backend backend_;
  std::mutex mutex_;
  std::optional<solver::CrossbarSystem> prototype_;
  std::vector<solver::CrossbarSystem> free_;
  std::atomic<int> analyses_{0};
};

namespace {

// T of the tile's circuit, and the factorized system that made it (for the IR-drop solve); the
// system goes back to its pool when the tile is done.
class LinearTile final : public TransferTile {
 public:
  // `pool`: where the system goes when the tile is done (nullptr: nowhere).
  LinearTile(solver::CrossbarSystem system, Eigen::MatrixXd t, TileHealth health,
             std::shared_ptr<LinearCircuitResponse::Pool> pool)
      : TransferTile(std::move(t), std::move(health)),
        system_(std::move(system)),
        pool_(std::move(pool)) {}
  ~LinearTile() override { release(); }
  LinearTile(const LinearTile&) = delete;
  LinearTile& operator=(const LinearTile&) = delete;

  void release() override {
    if (system_ && pool_ != nullptr) pool_->release(std::move(*system_));
    system_.reset();  // (a system of its own pattern is freed)
  }

  StatusOr<solver::CrossbarSolution> operating_point(const Eigen::MatrixXd& v) override {
    if (!system_) {
      return Status::invalid_argument("the tile's system was released: no operating point");
    }
    solver::SolveOptions so;
    so.node_voltages = true;
    StatusOr<solver::CrossbarSolution> run = system_->solve(v, so);
    if (!run.is_ok()) return run.status();
    const Eigen::MatrixXd by_t = currents(v, all_columns(t_.rows()));
    const Eigen::MatrixXd& direct = run.value().column_current;
    const double scale = direct.cwiseAbs().maxCoeff();
    const double diff = (by_t - direct).cwiseAbs().maxCoeff();
    health_.transfer_check = scale > 0.0 ? diff / scale : diff;
    health_.residual = run.value().relative_residual;
    return run;
  }

 private:
  std::optional<solver::CrossbarSystem> system_;  // empty once released
  std::shared_ptr<LinearCircuitResponse::Pool> pool_;
};

// Ideal wires, drivers and neurons: T = G^T, every cell sees its row's voltage.
class IdealTile final : public TransferTile {
 public:
  explicit IdealTile(const Eigen::MatrixXd& g)
      : TransferTile(g.transpose(), TileHealth{"no circuit (T = G^T)", 0.0, -1.0, 0}) {}
  StatusOr<solver::CrossbarSolution> operating_point(const Eigen::MatrixXd& v) override {
    solver::CrossbarSolution s;
    s.column_current = currents(v, all_columns(t_.rows()));
    s.word_voltage.push_back(v.transpose().replicate(1, t_.rows()));
    s.bit_voltage.push_back(Eigen::MatrixXd::Zero(t_.cols(), t_.rows()));
    return s;
  }
};

}  // namespace

LinearCircuitResponse::LinearCircuitResponse(solver::Backend backend)
    : pool_(std::make_shared<Pool>(backend)) {}
LinearCircuitResponse::~LinearCircuitResponse() = default;
int LinearCircuitResponse::analyses() const { return pool_->analyses(); }

Status LinearCircuitResponse::prepare_layout(const netlists::Crossbar& circuit) const {
  return pool_->make_prototype_for(circuit);
}

StatusOr<std::unique_ptr<TileResponse>> LinearCircuitResponse::prepare(
    const netlists::Crossbar& circuit, const TileContext& /*tile*/, bool ir_map) const {
  StatusOr<Pool::Lease> lease = pool_->acquire(circuit);
  if (!lease.is_ok()) return lease.status();
  solver::CrossbarSystem& system = lease.value().system;
  if (Status s = system.factorize(); !s.is_ok()) return s;
  // With an IR-drop map to come, that solve checks T; without one, T checks itself once.
  StatusOr<solver::TransferMatrix> t = system.transfer_matrix(1, !ir_map);
  if (!t.is_ok()) return t.status();
  TileHealth health;
  health.method = fmt::format("{}; {}", system.stats().factor.method, t.value().method);
  health.tiny_shorts = system.stats().tiny_shorts;
  if (!ir_map) {
    health.residual = t.value().check_residual;
    health.transfer_check = t.value().check_difference;
  }
  return std::unique_ptr<TileResponse>(new LinearTile(std::move(system), std::move(t.value().t),
                                                      std::move(health),
                                                      lease.value().pooled ? pool_ : nullptr));
}

StatusOr<std::unique_ptr<TileResponse>> IdealResponse::prepare(const netlists::Crossbar& circuit,
                                                               const TileContext& /*tile*/,
                                                               bool /*ir_map*/) const {
  return std::unique_ptr<TileResponse>(new IdealTile(circuit.conductance));
}

// ----------------------------------------------------------------------------------- read out

std::vector<Eigen::Index> used_columns(const Plan& plan, const TileSpec& t) {
  std::vector<Eigen::Index> cols;
  if (differential(plan)) {
    for (std::int64_t j = 0; j < 2 * t.nm; ++j) cols.push_back(j);
  } else {
    for (std::int64_t j = 0; j < t.nm; ++j) cols.push_back(j);
    cols.push_back(plan.options.array.cols - 1);
  }
  return cols;
}

Eigen::MatrixXd read_out(const Eigen::MatrixXd& current, const Plan& plan, const TileSpec& t) {
  XBARNET_ASSERT(current.cols() == (differential(plan) ? 2 * t.nm : t.nm + 1),
                 "read_out: the currents are not those of the tile's used columns");
  Eigen::MatrixXd y(current.rows(), t.nm);
  for (std::int64_t q = 0; q < t.nm; ++q) {
    y.col(q) = differential(plan) ? (current.col(2 * q) - current.col(2 * q + 1)).eval()
                                  : (current.col(q) - current.col(t.nm)).eval();
  }
  return y;
}

// ----------------------------------------------------------------------------------- digitise

std::int64_t Adc::apply(Eigen::MatrixXd& y, double fs) const {
  if (bits == 0) return 0;
  const auto clipped = static_cast<std::int64_t>((y.array().abs() > fs).count());
  y = y.unaryExpr([&](double v) { return devices::adc(v, bits, fs); });
  return clipped;
}

// ---------------------------------------------------------------------------------------- read

TileReads read_tile(const Plan& plan, const TileSpec& spec, const TileResponse& response,
                    const Eigen::MatrixXd& v, const ReadSide& side,
                    const devices::DeviceParams& device, const Adc& adc, double full_scale,
                    const ReadPerturbation& perturb, std::vector<double>* read_outs) {
  const std::vector<Eigen::Index> used = used_columns(plan, spec);
  TileReads out;
  // One read (numbered `index`: the perturbation's stream): the row scale, the response, the
  // column gains, the perturbation.
  const auto read = [&](const Eigen::MatrixXd& vr, int index) {
    // (No copy of the voltages without a row scale: a layer's batch block can be large.)
    Eigen::MatrixXd scaled_storage;
    if (side.row_scale.size() != 0) scaled_storage = vr * side.row_scale.asDiagonal();
    const Eigen::MatrixXd& scaled = side.row_scale.size() != 0 ? scaled_storage : vr;
    Eigen::MatrixXd i = response.currents(scaled, used);
    // The cells' read noise, then the neuron's gain (which amplifies it).
    if (perturb) perturb(i, scaled, index);
    if (side.column_gain.size() != 0) i = i * side.column_gain.asDiagonal();
    return i;
  };
  // `vectors` of the rows were read (the others are zero rows: no read, no conversion).
  const auto digitise = [&](const Eigen::MatrixXd& i, std::int64_t vectors) {
    Eigen::MatrixXd y = read_out(i, plan, spec);
    if (read_outs != nullptr) read_outs->insert(read_outs->end(), y.data(), y.data() + y.size());
    out.nonzero += static_cast<std::int64_t>((y.array() != 0.0).count());
    out.clipped += adc.apply(y, full_scale);
    out.conversions += vectors * y.cols();
    if (side.digital_gain != 1.0) y *= side.digital_gain;
    return y;
  };
  if (device.input_encoding == devices::InputEncoding::kAnalog) {
    out.current = read(v, 0);
    out.y = digitise(out.current, v.rows());
    if (side.digital_gain != 1.0) out.current *= side.digital_gain;  // what the y stand for
    return out;
  }
  const int bits = device.input_bits;
  const double steps = std::ldexp(1.0, bits) - 1.0;
  const Eigen::ArrayXXd code = (v.array().abs() / device.v_read * steps).round();
  out.current = Eigen::MatrixXd::Zero(v.rows(), static_cast<Eigen::Index>(used.size()));
  out.y = Eigen::MatrixXd::Zero(v.rows(), spec.nm);
  // Each vector is read in the passes of the signs it has (a vector without negative inputs
  // has no negative pass), so that its reads, their noise streams (positive bits 0 .. bits-1,
  // negative bits .. 2 bits-1) and its ADC conversions do not depend on the other vectors of
  // its batch.
  for (const double sign : {1.0, -1.0}) {
    const Eigen::ArrayXXd on_side = ((sign * v.array()) > 0.0).cast<double>();
    const Eigen::ArrayXd has_side = on_side.rowwise().maxCoeff();
    const auto vectors = static_cast<std::int64_t>(has_side.sum());
    if (vectors == 0) continue;
    for (int p = 0; p < bits; ++p) {
      const double place = std::ldexp(1.0, p);
      // Bit p of each code: floor(code / 2^p) mod 2.
      const Eigen::ArrayXXd bit = ((code / place).floor() - 2.0 * (code / (2.0 * place)).floor());
      // The magnitude bit at +v_read on the word line; the sign is applied after the ADC.
      const Eigen::MatrixXd vp = device.v_read * (bit * on_side).matrix();
      Eigen::MatrixXd i = read(vp, (sign > 0.0 ? 0 : bits) + p);
      if (vectors < v.rows()) i = (i.array().colwise() * has_side).matrix();
      const double weight = sign * place / steps;
      out.current += weight * i;
      out.y += weight * digitise(i, vectors);
    }
  }
  if (side.digital_gain != 1.0) out.current *= side.digital_gain;
  return out;
}

// -------------------------------------------------------------------------------------- merge

void merge_tile(const Plan& plan, const TileSpec& t, const Eigen::MatrixXd& y,
                const std::vector<double>& bias, Eigen::Ref<Eigen::MatrixXd> acc) {
  const bool majority =
      plan.options.scheme == Scheme::kInputSplit && plan.options.merge == Merge::kMajority;
  if (!majority) {
    acc.middleCols(t.m0, t.nm) += y;
    return;
  }
  const double share = 1.0 / static_cast<double>(plan.groups);
  for (std::int64_t q = 0; q < t.nm; ++q) {
    const double b = bias[t.m0 + q] * share;
    for (Eigen::Index k = 0; k < y.rows(); ++k) acc(k, t.m0 + q) += y(k, q) + b >= 0.0 ? 1.0 : -1.0;
  }
}

// ------------------------------------------------------------------------------------- stitch

std::vector<double> bias_per_output(const Layer& layer, const Lowering& low) {
  std::vector<double> b(static_cast<size_t>(low.outputs), 0.0);
  if (layer.bias.empty()) return b;
  for (std::int64_t m = 0; m < low.outputs; ++m) {
    b[m] = layer.bias[low.subimage == 0 ? m : m / (low.subimage * low.subimage)];
  }
  return b;
}

Tensor stitch(const Layer& layer, const Plan& plan, const Eigen::MatrixXd& acc,
              const std::vector<double>& bias, std::int64_t batch, Tensor* pre_activation) {
  const Lowering& low = plan.lowering;
  const bool majority =
      plan.options.scheme == Scheme::kInputSplit && plan.options.merge == Merge::kMajority;
  Tensor out;
  out.shape = output_shape(layer.shape, batch);
  out.data.assign(static_cast<size_t>(out.size()), 0.0);
  if (pre_activation != nullptr) *pre_activation = out;
  for (std::int64_t m = 0; m < low.outputs; ++m) {
    for (Eigen::Index k = 0; k < acc.rows(); ++k) {
      const std::int64_t at = scatter(layer.shape, low, k, m);
      if (at < 0) continue;  // a sub-image position outside the output image
      const double pre = majority ? (acc(k, m) >= 0.0 ? 1.0 : -1.0) : acc(k, m) + bias[m];
      out.data[at] = majority ? pre : apply_activation(layer.activation, pre);
      if (pre_activation != nullptr) pre_activation->data[at] = pre;
    }
  }
  return out;
}

OutputErrors compare_outputs(const Tensor& sim, const Tensor& ideal) {
  XBARNET_ASSERT(sim.data.size() == ideal.data.size(), "compare_outputs: shapes differ");
  OutputErrors e;
  double se = 0.0, ref2 = 0.0, max_ideal = 0.0;
  for (size_t i = 0; i < sim.data.size(); ++i) {
    const double d = sim.data[i] - ideal.data[i];
    se += d * d;
    ref2 += ideal.data[i] * ideal.data[i];
    e.max_abs = std::max(e.max_abs, std::abs(d));
    max_ideal = std::max(max_ideal, std::abs(ideal.data[i]));
  }
  const double n = static_cast<double>(std::max<size_t>(sim.data.size(), 1));
  e.rmse = std::sqrt(se / n);
  e.ideal_rms = std::sqrt(ref2 / n);
  e.max_relative = max_ideal > 0.0 ? e.max_abs / max_ideal : 0.0;
  return e;
}

}  // namespace xbarnet::mapping
