#include "networks/network.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>

namespace xbarnet::networks {

namespace {

std::string shape_text(const std::vector<std::int64_t>& s) {
  return fmt::format("({})", fmt::join(s, ", "));
}

std::int64_t product(const std::vector<std::int64_t>& s) {
  std::int64_t n = 1;
  for (std::int64_t d : s) n *= d;
  return n;
}

// The whole-batch shape of a per-sample shape.
std::vector<std::int64_t> batch_shape(std::int64_t n, const std::vector<std::int64_t>& sample) {
  std::vector<std::int64_t> s{n};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

Status step_error(const StepSpec& spec, const std::string& what) {
  return Status::invalid_argument(fmt::format("layer '{}' ({}): {}", spec.name, spec.kind, what));
}

// A weighted layer in double precision, by its own patch matrix and one dense product per layer
// (per channel for depthwise): the float network's path. It shares nothing with the mapping's
// lowering, which it is compared with.
Tensor float_layer(const mapping::Layer& layer, const Tensor& x) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const mapping::LayerShape& s = layer.shape;
  const std::int64_t n = x.dim(0);
  Tensor out;
  out.shape = mapping::output_shape(s, n);
  out.data.assign(static_cast<size_t>(out.size()), 0.0);
  const auto bias = [&](std::int64_t m) { return layer.bias.empty() ? 0.0 : layer.bias[m]; };
  if (s.kind == mapping::LayerKind::kDense) {
    const Eigen::Map<const Mat> in(x.data.data(), n, s.in_channels);
    const Eigen::Map<const Mat> w(layer.weights.data.data(), s.out_channels, s.in_channels);
    Eigen::Map<Mat> y(out.data.data(), n, s.out_channels);
    y.noalias() = in * w.transpose();
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t m = 0; m < s.out_channels; ++m) {
        y(i, m) = mapping::apply_activation(layer.activation, y(i, m) + bias(m));
      }
    }
    return out;
  }
  const std::int64_t k = s.kernel, h = s.in_height, w = s.in_width;
  const std::int64_t ho = s.out_height(), wo = s.out_width(), cin = s.in_channels;
  const bool depthwise = s.kind == mapping::LayerKind::kDepthwise;
  const std::int64_t taps = (depthwise ? 1 : cin) * k * k;  // inputs of one output
  const std::int64_t groups = depthwise ? cin : 1;
  const std::int64_t per_group = depthwise ? 1 : s.out_channels;
  Mat patches(ho * wo, taps);
  Mat y(ho * wo, per_group);
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t g = 0; g < groups; ++g) {
      // Patch matrix of sample b (channel g for depthwise): row = output position, column =
      // (channel, ky, kx) in the weights' order; zero padding.
      patches.setZero();
      const std::int64_t c0 = depthwise ? g : 0, c1 = depthwise ? g + 1 : cin;
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double* row = patches.data() + (oy * wo + ox) * taps;
          for (std::int64_t c = c0; c < c1; ++c) {
            const double* img = x.data.data() + (b * cin + c) * h * w;
            for (std::int64_t ky = 0; ky < k; ++ky) {
              const std::int64_t iy = oy * s.stride - s.padding + ky;
              if (iy < 0 || iy >= h) continue;
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t ix = ox * s.stride - s.padding + kx;
                if (ix < 0 || ix >= w) continue;
                row[((c - c0) * k + ky) * k + kx] = img[iy * w + ix];
              }
            }
          }
        }
      }
      const Eigen::Map<const Mat> wt(layer.weights.data.data() + g * per_group * taps, per_group,
                                     taps);
      y.noalias() = patches * wt.transpose();
      for (std::int64_t m = 0; m < per_group; ++m) {
        const std::int64_t channel = g * per_group + m;
        double* o = out.data.data() + (b * s.out_channels + channel) * ho * wo;
        for (std::int64_t p = 0; p < ho * wo; ++p) {
          o[p] = mapping::apply_activation(layer.activation, y(p, m) + bias(channel));
        }
      }
    }
  }
  return out;
}

}  // namespace

std::string_view to_string(StepKind k) {
  switch (k) {
    case StepKind::kWeighted:
      return "weighted";
    case StepKind::kMaxPool:
      return "maxpool";
    case StepKind::kAvgPool:
      return "avgpool";
    case StepKind::kRelu:
      return "relu";
    case StepKind::kFlatten:
      return "flatten";
    case StepKind::kAdd:
      return "add";
  }
  return "?";
}

std::vector<std::size_t> Network::weighted_steps() const {
  std::vector<std::size_t> w;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kWeighted) w.push_back(i);
  }
  return w;
}

namespace {

// The values of one image at any step are capped: 2^26 (512 MiB of doubles per image), far beyond
// any network a crossbar serves, and short of overflowing a product of dimensions.
constexpr std::int64_t kMaxImageValues = std::int64_t{1} << 26;

// The values of one image of `shape`, or -1 past kMaxImageValues.
std::int64_t image_values(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 1 || d > kMaxImageValues || n > kMaxImageValues / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace

bool is_weighted_kind(std::string_view kind) {
  return kind == "conv" || kind == "depthwise" || kind == "pointwise" || kind == "dense";
}

bool is_pooling_kind(std::string_view kind) { return kind == "maxpool" || kind == "avgpool"; }

Status check_finite_images(const Tensor& images) {
  for (std::size_t i = 0; i < images.data.size(); ++i) {
    if (!std::isfinite(images.data[i])) {
      return Status::invalid_argument(
          fmt::format("an image value is not finite ({} at flat index {} of the images {})",
                      images.data[i], i, images.shape_string()));
    }
  }
  return Status::ok();
}

std::string step_key_rule(std::string_view kind, std::string_view key) {
  const bool weighted = is_weighted_kind(kind);
  const bool pool = is_pooling_kind(kind);
  if (key == "weights" || key == "bias" || key == "padding" || key == "activation" ||
      key == "mapping") {
    return weighted ? "" : "is a key of weighted layers only";
  }
  if (key == "kernel") return pool ? "" : "is a key of pooling layers only";
  if (key == "stride")
    return weighted || pool ? "" : "is a key of weighted and pooling layers only";
  if (key == "from") return kind == "add" ? "" : "is a key of add layers only";
  if (key == "name" || key == "kind") return "";
  return "unknown key";
}

StatusOr<Network> make_network(std::string name, std::vector<std::int64_t> input_shape,
                               std::int64_t classes, std::vector<StepSpec> specs) {
  Network net;
  net.name = std::move(name);
  if (input_shape.size() != 3 ||
      std::any_of(input_shape.begin(), input_shape.end(), [](std::int64_t d) { return d < 1; })) {
    return Status::invalid_argument(
        fmt::format("input = {}: one image is (channels, height, width), each at least 1",
                    shape_text(input_shape)));
  }
  if (classes < 2) {
    return Status::invalid_argument(
        fmt::format("classes = {}: a classifier needs at least 2 classes", classes));
  }
  if (image_values(input_shape) < 0) {
    return Status::invalid_argument(fmt::format("input = {}: more than {} values per image",
                                                shape_text(input_shape), kMaxImageValues));
  }
  if (specs.empty()) return Status::invalid_argument("the network has no layer");
  net.input_shape = input_shape;
  net.classes = classes;
  std::vector<std::int64_t> shape = input_shape;
  std::string previous = "the input";
  for (std::size_t i = 0; i < specs.size(); ++i) {
    StepSpec& spec = specs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (specs[j].name == spec.name) {
        return step_error(spec,
                          fmt::format("the name is used by layer {} too: names are unique", j));
      }
    }
    Step step;
    step.name = spec.name;
    step.in_shape = shape;
    const std::string given = fmt::format("{} gives {}", previous, shape_text(shape));
    if (is_pooling_kind(spec.kind)) {
      step.kind = spec.kind == "maxpool" ? StepKind::kMaxPool : StepKind::kAvgPool;
      step.kernel = spec.kernel;
      step.stride = spec.pool_stride > 0 ? spec.pool_stride : spec.kernel;
      if (shape.size() != 3) {
        return step_error(spec, fmt::format("pooling needs images (C, H, W); {}", given));
      }
      if (step.kernel < 1 || step.kernel > shape[1] || step.kernel > shape[2]) {
        return step_error(spec, fmt::format("kernel = {}: it must be 1 .. the image's side; {}",
                                            step.kernel, given));
      }
      step.out_shape = {shape[0], (shape[1] - step.kernel) / step.stride + 1,
                        (shape[2] - step.kernel) / step.stride + 1};
    } else if (spec.kind == "relu") {
      step.kind = StepKind::kRelu;
      step.out_shape = shape;
    } else if (spec.kind == "flatten") {
      step.kind = StepKind::kFlatten;
      step.out_shape = {product(shape)};
    } else if (spec.kind == "add") {
      step.kind = StepKind::kAdd;
      for (std::size_t j = 0; j < i; ++j) {
        if (specs[j].name == spec.from) step.from = static_cast<std::int64_t>(j);
      }
      if (step.from < 0) {
        return step_error(spec,
                          fmt::format("from = '{}': no earlier layer has that name", spec.from));
      }
      const std::vector<std::int64_t>& other = net.steps[step.from].out_shape;
      if (other != shape) {
        return step_error(spec, fmt::format("'{}' gives {} but {}: an add needs equal shapes",
                                            spec.from, shape_text(other), given));
      }
      step.out_shape = shape;
    } else {
      StatusOr<mapping::LayerKind> kind = mapping::parse_layer_kind(spec.kind);
      if (!kind.is_ok()) {
        return step_error(spec,
                          "unknown kind: conv, depthwise, pointwise, dense, maxpool, avgpool, "
                          "relu, flatten or add");
      }
      step.kind = StepKind::kWeighted;
      const bool dense = kind.value() == mapping::LayerKind::kDense;
      if (dense != (shape.size() == 1)) {
        return step_error(
            spec,
            fmt::format("a {} layer needs {}; {}", spec.kind,
                        dense ? "a flat input (K) (add a flatten)" : "images (C, H, W)", given));
      }
      // The inputs the weights take, against what the previous step gives.
      const std::vector<std::int64_t>& ws = spec.weights.shape;
      const bool depthwise = kind.value() == mapping::LayerKind::kDepthwise;
      const bool rank_fits =
          dense ? ws.size() == 2
                : (ws.size() == 4 ||
                   (kind.value() == mapping::LayerKind::kPointwise && ws.size() == 2));
      if (rank_fits) {  // (else make_layer says which shape the kind needs)
        const std::int64_t takes = depthwise ? ws[0] : ws[1];
        if (takes != shape[0]) {
          return step_error(spec, fmt::format("its weights {} take {} input {}, but {}",
                                              spec.weights.shape_string(), takes,
                                              dense ? "values" : "channels", given));
        }
      }
      Tensor probe;  // the input's shape only
      probe.shape = batch_shape(1, shape);
      StatusOr<mapping::Layer> layer =
          mapping::make_layer(kind.value(), std::move(spec.weights), std::move(spec.bias),
                              spec.stride, spec.padding, spec.activation, probe);
      if (!layer.is_ok()) return step_error(spec, layer.status().message());
      step.layer = std::move(layer).value();
      std::vector<std::int64_t> out = mapping::output_shape(step.layer.shape, 1);
      step.out_shape.assign(out.begin() + 1, out.end());
      mapping::MappingOptions probe_mapping;
      for (const auto& [key, value] : spec.mapping) {
        if (Status st = mapping::mapping_parameters().set(probe_mapping, key, value); !st.is_ok()) {
          return step_error(spec, fmt::format("mapping: {}", st.message()));
        }
      }
      if (Status st = mapping::validate(probe_mapping); !st.is_ok()) {
        return step_error(spec, fmt::format("mapping: {}", st.message()));
      }
      step.mapping = std::move(spec.mapping);
    }
    if (image_values(step.out_shape) < 0) {
      return step_error(spec, fmt::format("it gives {}: more than {} values per image",
                                          shape_text(step.out_shape), kMaxImageValues));
    }
    shape = step.out_shape;
    previous = fmt::format("layer '{}'", step.name);
    net.steps.push_back(std::move(step));
  }
  if (shape != std::vector<std::int64_t>{classes}) {
    return Status::invalid_argument(fmt::format(
        "the last layer '{}' gives {}: a network of {} classes ends in ({}) class scores",
        net.steps.back().name, shape_text(shape), classes, classes));
  }
  return net;
}

Tensor apply_operation(const Step& step, const Tensor& input, const Tensor* added) {
  const std::int64_t n = input.dim(0);
  Tensor out;
  out.shape = batch_shape(n, step.out_shape);
  switch (step.kind) {
    case StepKind::kRelu:
      out.data = input.data;
      for (double& v : out.data) v = std::max(v, 0.0);
      return out;
    case StepKind::kFlatten:
      out.data = input.data;  // NCHW is already C, H, W order per sample
      return out;
    case StepKind::kAdd:
      out.data = input.data;
      for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += added->data[i];
      return out;
    case StepKind::kMaxPool:
    case StepKind::kAvgPool: {
      const std::int64_t c = step.in_shape[0], h = step.in_shape[1], w = step.in_shape[2];
      const std::int64_t ho = step.out_shape[1], wo = step.out_shape[2], k = step.kernel;
      const bool max = step.kind == StepKind::kMaxPool;
      out.data.assign(static_cast<size_t>(out.size()), 0.0);
      for (std::int64_t b = 0; b < n * c; ++b) {
        const double* in = input.data.data() + b * h * w;
        double* o = out.data.data() + b * ho * wo;
        for (std::int64_t oy = 0; oy < ho; ++oy) {
          for (std::int64_t ox = 0; ox < wo; ++ox) {
            double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
            for (std::int64_t ky = 0; ky < k; ++ky) {
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const double v = in[(oy * step.stride + ky) * w + ox * step.stride + kx];
                acc = max ? std::max(acc, v) : acc + v;
              }
            }
            o[oy * wo + ox] = max ? acc : acc / static_cast<double>(k * k);
          }
        }
      }
      return out;
    }
    case StepKind::kWeighted:
      break;
  }
  return out;
}

StatusOr<Tensor> float_forward(const Network& net, const Tensor& images) {
  if (images.shape != batch_shape(images.shape.empty() ? 0 : images.dim(0), net.input_shape) ||
      images.dim(0) < 1) {
    return Status::invalid_argument(fmt::format("images have shape {}: the network takes (N, {})",
                                                images.shape_string(),
                                                fmt::join(net.input_shape, ", ")));
  }
  if (Status s = check_finite_images(images); !s.is_ok()) return s;
  std::vector<Tensor> outputs(net.steps.size());
  const Tensor* x = &images;
  for (std::size_t i = 0; i < net.steps.size(); ++i) {
    const Step& s = net.steps[i];
    if (s.kind == StepKind::kWeighted) {
      outputs[i] = float_layer(s.layer, *x);
    } else {
      outputs[i] = apply_operation(s, *x, s.from >= 0 ? &outputs[s.from] : nullptr);
    }
    x = &outputs[i];
  }
  return outputs.back();
}

std::vector<std::int64_t> predictions(const Tensor& scores) {
  const std::int64_t n = scores.dim(0), k = scores.size() / std::max<std::int64_t>(n, 1);
  std::vector<std::int64_t> p(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = scores.data.data() + i * k;
    p[i] = std::max_element(row, row + k) - row;
  }
  return p;
}

Tensor slice_samples(const Tensor& t, std::int64_t begin, std::int64_t end) {
  Tensor s;
  s.shape = t.shape;
  s.shape[0] = end - begin;
  const std::int64_t per = t.size() / t.dim(0);
  s.data.assign(t.data.begin() + begin * per, t.data.begin() + end * per);
  return s;
}

}  // namespace xbarnet::networks
