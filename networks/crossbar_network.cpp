#include "networks/crossbar_network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/memory.hpp"
#include "core/threads.hpp"
#include "devices/adc.hpp"

namespace xbarnet::networks {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Status layer_error(const Step& step, const Status& s) {
  return Status(s.code(), fmt::format("layer '{}': {}", step.name, s.message()));
}

Status check_images(const Network& net, const Tensor& images, const char* what) {
  std::vector<std::int64_t> want{images.shape.empty() ? 0 : images.dim(0)};
  want.insert(want.end(), net.input_shape.begin(), net.input_shape.end());
  if (images.shape != want || images.dim(0) < 1) {
    return Status::invalid_argument(fmt::format(
        "{} have shape {}: the network takes (N, {}, {}, {})", what, images.shape_string(),
        net.input_shape[0], net.input_shape[1], net.input_shape[2]));
  }
  return Status::ok();
}

}  // namespace

StatusOr<mapping::SimulationOptions> layer_options(const NetworkOptions& options, const Step& step,
                                                   std::int64_t k) {
  mapping::SimulationOptions o = options.simulation;
  for (const auto& [key, value] : step.mapping) {
    if (Status s = mapping::mapping_parameters().set(o.mapping, key, value); !s.is_ok()) {
      return layer_error(step, s);
    }
  }
  o.variation.seed += static_cast<std::uint64_t>(k);
  if (Status s = mapping::validate(o); !s.is_ok()) return layer_error(step, s);
  return o;
}

StatusOr<CrossbarNetwork> CrossbarNetwork::prepare(const Network& net,
                                                   const NetworkOptions& options,
                                                   const Tensor& calibration,
                                                   const ProgressFn& progress) {
  const auto t_start = Clock::now();
  if (options.batch < 1) {
    return Status::invalid_argument(
        fmt::format("batch = {}: at least 1 image per batch", options.batch));
  }
  if (Status s = check_images(net, calibration, "the calibration images"); !s.is_ok()) return s;
  CrossbarNetwork x;
  x.net_ = net;
  x.options_ = options;
  x.prepared_.resize(net.steps.size());
  const std::vector<std::size_t> weighted = net.weighted_steps();
  Progress p;
  p.phase = Progress::Phase::kSetup;
  p.layers = static_cast<std::int64_t>(weighted.size());
  // The tiles of every layer, for the progress line, and the bytes they keep.
  std::vector<mapping::SimulationOptions> opts;
  double kept = 0.0;
  for (std::size_t i : weighted) {
    StatusOr<mapping::SimulationOptions> o =
        layer_options(options, net.steps[i], static_cast<std::int64_t>(opts.size()));
    if (!o.is_ok()) return o.status();
    opts.push_back(o.value());
    StatusOr<mapping::Plan> pl =
        mapping::plan(net.steps[i].layer.shape, o.value().mapping, o.value().device.sign);
    if (!pl.is_ok()) return layer_error(net.steps[i], pl.status());
    p.tiles += static_cast<std::int64_t>(pl.value().tiles.size());
    kept += mapping::prepared_layer_bytes(pl.value());
  }
  // What the prepared layers keep together (every tile's response), before any is set up.
  x.kept_bytes_ = kept;
  if (const double limit = core::effective_memory_limit(options.simulation.memory_limit);
      kept > limit) {
    return Status::invalid_argument(fmt::format(
        "network '{}': its {} tiles keep about {:.3g} GB of responses, more than the memory "
        "limit of {:.3g} GB (simulation.memory_limit; 0 = half of the machine's memory): smaller "
        "arrays or fewer layers",
        net.name, p.tiles, kept / 1e9, limit / 1e9));
  }
  // The calibration images through the network as the arrays compute it, layer by layer.
  std::vector<Tensor> outputs(net.steps.size());
  const Tensor* x_in = &calibration;
  std::size_t k = 0;
  for (std::size_t i = 0; i < net.steps.size(); ++i) {
    const Step& s = net.steps[i];
    if (s.kind == StepKind::kWeighted) {
      p.layer = s.name;
      if (progress) progress(p);
      const std::int64_t tiles_before = p.tiles_done;
      const auto on_tiles = [&](std::int64_t done) {
        p.tiles_done = tiles_before + done;
        progress(p);
      };
      StatusOr<mapping::PreparedLayer> prepared =
          progress ? mapping::prepare_layer(s.layer, opts[k], *x_in, {}, on_tiles)
                   : mapping::prepare_layer(s.layer, opts[k], *x_in);
      if (!prepared.is_ok()) return layer_error(s, prepared.status());
      x.prepared_[i].emplace(std::move(prepared).value());
      StatusOr<mapping::LayerRun> run = mapping::run_layer(*x.prepared_[i], *x_in);
      if (!run.is_ok()) return layer_error(s, run.status());
      const mapping::LayerReport& rep = x.prepared_[i]->report;
      if (Status st =
              mapping::check_adc_covers(opts[k], run.value().adc_clipped, run.value().adc_nonzero,
                                        rep.adc_full_scale_min, rep.adc_full_scale_max);
          !st.is_ok()) {
        return layer_error(
            s, Status::invalid_argument(fmt::format("on the calibration batch: {}", st.message())));
      }
      outputs[i] = std::move(run.value().simulated);
      ++k;
      ++p.layers_done;
      p.tiles_done = tiles_before + static_cast<std::int64_t>(x.prepared_[i]->tiles.size());
    } else {
      outputs[i] = apply_operation(s, *x_in, s.from >= 0 ? &outputs[s.from] : nullptr);
    }
    x_in = &outputs[i];
  }
  p.layer.clear();
  if (progress) progress(p);
  x.setup_seconds_ = seconds_since(t_start);
  return x;
}

NetworkOptions on_ideal_crossbars(NetworkOptions options) {
  options.simulation.ideal_only = true;
  options.simulation.ir_drop = false;
  options.simulation.correction.scheme = corrections::Scheme::kNone;
  return options;
}

Status CrossbarNetwork::check_batch_memory(std::int64_t batch) const {
  // What a batch needs, layer by layer, before anything is allocated, on top of every prepared
  // layer's responses (held while any layer runs).
  for (std::size_t i = 0; i < net_.steps.size(); ++i) {
    const mapping::PreparedLayer* p = layer(i);
    if (p == nullptr) continue;
    const Step& step = net_.steps[i];
    std::int64_t out_per_sample = 1;
    for (std::int64_t d : step.out_shape) out_per_sample *= d;
    const double need = mapping::estimate_simulation_bytes(p->report.plan, batch, out_per_sample,
                                                           core::capped_threads(p->options.threads),
                                                           p->options.ideal_only) +
                        kept_bytes_;
    const double limit = core::effective_memory_limit(p->options.memory_limit);
    if (need > limit) {
      return Status::invalid_argument(fmt::format(
          "layer '{}': a batch of {} images needs about {:.3g} GB with the network's arrays, more "
          "than the memory limit of "
          "{:.3g} GB (simulation.memory_limit; 0 = half of the machine's memory): a smaller "
          "data.batch",
          step.name, batch, need / 1e9, limit / 1e9));
    }
  }
  return Status::ok();
}

StatusOr<CrossbarNetwork::Forward> CrossbarNetwork::forward(const Tensor& images,
                                                            std::int64_t first_image) const {
  if (Status s = check_images(net_, images, "the images"); !s.is_ok()) return s;
  if (first_image < 0 || first_image > (std::int64_t{1} << 40)) {
    return Status::invalid_argument(
        fmt::format("first_image = {}: must be in 0 .. 2^40 (an image's index)", first_image));
  }
  if (Status s = check_batch_memory(images.dim(0)); !s.is_ok()) return s;
  Forward f;
  std::vector<Tensor> outputs(net_.steps.size());
  const Tensor* x_in = &images;
  for (std::size_t i = 0; i < net_.steps.size(); ++i) {
    const Step& s = net_.steps[i];
    if (s.kind == StepKind::kWeighted) {
      const mapping::PreparedLayer& pl = *prepared_[i];
      StatusOr<mapping::LayerRun> run = mapping::run_layer(pl, *x_in, false, first_image);
      if (!run.is_ok()) return layer_error(s, run.status());
      mapping::LayerRun& r = run.value();
      f.adc_conversions += r.adc_conversions;
      f.adc_clipped += r.adc_clipped;
      f.inputs_clipped += r.inputs_clipped;
      f.adc_energy += static_cast<double>(r.adc_conversions) *
                      devices::conversion_energy(pl.options.adc, pl.options.device.adc_bits);
      outputs[i] = std::move(r.simulated);
    } else {
      outputs[i] = apply_operation(s, *x_in, s.from >= 0 ? &outputs[s.from] : nullptr);
    }
    x_in = &outputs[i];
  }
  f.scores = std::move(outputs.back());
  return f;
}

const mapping::PreparedLayer* CrossbarNetwork::layer(std::size_t step) const {
  return step < prepared_.size() && prepared_[step] ? &*prepared_[step] : nullptr;
}

std::int64_t CrossbarNetwork::tiles() const {
  std::int64_t n = 0;
  for (const auto& p : prepared_) n += p ? static_cast<std::int64_t>(p->tiles.size()) : 0;
  return n;
}

std::int64_t CrossbarNetwork::arrays() const {
  std::int64_t n = 0;
  for (const auto& p : prepared_) n += p ? p->report.plan.arrays : 0;
  return n;
}

Status validate(const DataSet& data, const Network& net) {
  if (Status s = check_images(net, data.images, "the images"); !s.is_ok()) return s;
  if (static_cast<std::int64_t>(data.labels.size()) != data.images.dim(0)) {
    return Status::invalid_argument(fmt::format("{} labels for {} images: one label per image",
                                                data.labels.size(), data.images.dim(0)));
  }
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] < 0 || data.labels[i] >= net.classes) {
      return Status::invalid_argument(
          fmt::format("label {} of image {} is outside 0 .. {} (the network's {} classes)",
                      data.labels[i], i, net.classes - 1, net.classes));
    }
  }
  return check_finite_images(data.images);
}

namespace {

// Batches of a data set through `scores_of(batch, first_image)`.
template <typename ScoresOf>
StatusOr<Evaluation> evaluate_batches(const DataSet& data, std::int64_t batch,
                                      const ProgressFn& progress, ScoresOf scores_of) {
  const auto t_start = Clock::now();
  Evaluation e;
  e.images = data.images.dim(0);
  e.predicted.reserve(static_cast<size_t>(e.images));
  Progress p;
  p.phase = Progress::Phase::kEvaluate;
  p.images = e.images;
  double energy = 0.0;
  for (std::int64_t b = 0; b < e.images; b += batch) {
    const std::int64_t end = std::min(e.images, b + batch);
    StatusOr<CrossbarNetwork::Forward> f = scores_of(slice_samples(data.images, b, end), b);
    if (!f.is_ok()) {
      return Status(f.status().code(),
                    fmt::format("images {} .. {}: {}", b, end - 1, f.status().message()));
    }
    for (std::int64_t c : predictions(f.value().scores)) e.predicted.push_back(c);
    e.adc_conversions += f.value().adc_conversions;
    e.adc_clipped += f.value().adc_clipped;
    e.inputs_clipped += f.value().inputs_clipped;
    energy += f.value().adc_energy;
    p.images_done = end;
    if (progress) progress(p);
  }
  for (std::int64_t i = 0; i < e.images; ++i) e.correct += e.predicted[i] == data.labels[i] ? 1 : 0;
  e.accuracy = static_cast<double>(e.correct) / static_cast<double>(e.images);
  e.adc_energy_per_image = energy / static_cast<double>(e.images);
  e.seconds = seconds_since(t_start);
  return e;
}

}  // namespace

StatusOr<Evaluation> evaluate(const CrossbarNetwork& xnet, const DataSet& data,
                              const ProgressFn& progress) {
  if (Status s = validate(data, xnet.network()); !s.is_ok()) return s;
  // Every batch's memory is checked by forward() before it allocates anything.
  return evaluate_batches(
      data, xnet.options().batch, progress,
      [&](const Tensor& images, std::int64_t first) { return xnet.forward(images, first); });
}

StatusOr<Evaluation> evaluate_float(const Network& net, const DataSet& data, std::int64_t batch) {
  if (Status s = validate(data, net); !s.is_ok()) return s;
  if (batch < 1) return Status::invalid_argument(fmt::format("batch = {}: at least 1", batch));
  return evaluate_batches(
      data, batch, {},
      [&](const Tensor& images, std::int64_t) -> StatusOr<CrossbarNetwork::Forward> {
        StatusOr<Tensor> s = float_forward(net, images);
        if (!s.is_ok()) return s.status();
        CrossbarNetwork::Forward f;
        f.scores = std::move(s).value();
        return f;
      });
}

}  // namespace xbarnet::networks
