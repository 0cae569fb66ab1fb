#include "mapping/layer.hpp"

#include "core/enum.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <numeric>

namespace xbarnet::mapping {

std::int64_t Tensor::size() const {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::string Tensor::shape_string() const {
  return fmt::format("({}{})", fmt::join(shape, ", "), shape.size() == 1 ? "," : "");
}

std::string_view to_string(LayerKind k) {
  switch (k) {
    case LayerKind::kDense:
      return "dense";
    case LayerKind::kConv:
      return "conv";
    case LayerKind::kDepthwise:
      return "depthwise";
    case LayerKind::kPointwise:
      return "pointwise";
  }
  return "unknown";
}

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::kNone:
      return "none";
    case Activation::kRelu:
      return "relu";
    case Activation::kSign:
      return "sign";
  }
  return "unknown";
}

StatusOr<LayerKind> parse_layer_kind(std::string_view text) {
  return core::parse_enum("kind", text,
                          std::array{LayerKind::kDense, LayerKind::kConv, LayerKind::kDepthwise,
                                     LayerKind::kPointwise});
}

StatusOr<Activation> parse_activation(std::string_view text) {
  return core::parse_enum("activation", text,
                          std::array{Activation::kNone, Activation::kRelu, Activation::kSign});
}

double apply_activation(Activation a, double y) {
  switch (a) {
    case Activation::kNone:
      return y;
    case Activation::kRelu:
      return y > 0.0 ? y : 0.0;
    case Activation::kSign:
      return y >= 0.0 ? 1.0 : -1.0;
  }
  return y;
}

std::int64_t LayerShape::fan_in() const {
  switch (kind) {
    case LayerKind::kDense:
      return in_channels;
    case LayerKind::kConv:
      return in_channels * kernel * kernel;
    case LayerKind::kDepthwise:
      return kernel * kernel;
    case LayerKind::kPointwise:
      return in_channels;
  }
  return 0;
}

std::string LayerShape::describe() const {
  if (kind == LayerKind::kDense) return fmt::format("dense {} -> {}", in_channels, out_channels);
  return fmt::format("{} {}x{} {} -> {}, input {}x{}, stride {}, padding {}", to_string(kind),
                     kernel, kernel, in_channels, out_channels, in_height, in_width, stride,
                     padding);
}

std::string LayerShape::brief() const {
  if (kind == LayerKind::kDense) return fmt::format("dense {}->{}", in_channels, out_channels);
  return fmt::format("{}{}x{} {}->{} @{}x{} s{} p{}", to_string(kind), kernel, kernel, in_channels,
                     out_channels, in_height, in_width, stride, padding);
}

Status validate(const LayerShape& s) {
  auto bad = [&](const char* field, std::int64_t v, const char* rule) {
    return Status::invalid_argument(fmt::format("{} = {}: {}", field, v, rule));
  };
  // Bounds far beyond any network, so that every count below stays exact in 64 bits.
  constexpr std::int64_t kMaxChannels = std::int64_t{1} << 24;
  constexpr std::int64_t kMaxExtent = std::int64_t{1} << 20;  // image side, kernel, stride, padding
  if (s.in_channels < 1 || s.in_channels > kMaxChannels) {
    return bad("in_channels", s.in_channels, "must be in 1 .. 16777216");
  }
  if (s.out_channels < 1 || s.out_channels > kMaxChannels) {
    return bad("out_channels", s.out_channels, "must be in 1 .. 16777216");
  }
  for (auto [name, v] : {std::pair{"kernel", s.kernel},
                         {"stride", s.stride},
                         {"padding", s.padding},
                         {"input height", s.in_height},
                         {"input width", s.in_width}}) {
    if (v > kMaxExtent) return bad(name, v, "must be <= 1048576");
  }
  if (s.kind == LayerKind::kDepthwise && s.out_channels != s.in_channels) {
    return bad("out_channels", s.out_channels, "a depthwise layer has out_channels = in_channels");
  }
  if (s.kernel < 1) return bad("kernel", s.kernel, "must be >= 1");
  if (s.kind == LayerKind::kPointwise && s.kernel != 1) {
    return bad("kernel", s.kernel, "a pointwise layer has kernel = 1");
  }
  if (s.stride < 1) return bad("stride", s.stride, "must be >= 1");
  if (s.padding < 0) return bad("padding", s.padding, "must be >= 0");
  if (s.kind != LayerKind::kDense) {
    if (s.in_height < 1 || s.in_width < 1)
      return bad("input height/width", std::min(s.in_height, s.in_width), "must be >= 1");
    if (s.out_height() < 1 || s.out_width() < 1) {
      return Status::invalid_argument(
          fmt::format("kernel {} with padding {} does not fit the {}x{} input", s.kernel, s.padding,
                      s.in_height, s.in_width));
    }
  }
  return Status::ok();
}

std::vector<std::int64_t> output_shape(const LayerShape& s, std::int64_t batch) {
  if (s.kind == LayerKind::kDense) return {batch, s.out_channels};
  return {batch, s.out_channels, s.out_height(), s.out_width()};
}

namespace {

Status check_finite(const char* field, const Tensor& t) {
  for (size_t i = 0; i < t.data.size(); ++i) {
    if (!std::isfinite(t.data[i])) {
      return Status::invalid_argument(
          fmt::format("{}[{}] (flat index) = {}: must be finite", field, i, t.data[i]));
    }
  }
  return Status::ok();
}

}  // namespace

StatusOr<LayerShape> layer_shape(LayerKind kind, const std::vector<std::int64_t>& weight_shape,
                                 std::int64_t stride, std::int64_t padding,
                                 const std::vector<std::int64_t>& input_shape) {
  LayerShape s;
  s.kind = kind;
  s.stride = stride;
  s.padding = padding;
  const auto& w = weight_shape;
  const std::string ws = Tensor{weight_shape, {}}.shape_string();
  switch (kind) {
    case LayerKind::kDense:
      if (w.size() != 2) {
        return Status::invalid_argument(
            fmt::format("weights have shape {}: a dense layer needs (outputs, inputs)", ws));
      }
      s.out_channels = w[0];
      s.in_channels = w[1];
      break;
    case LayerKind::kConv:
      if (w.size() != 4 || w[2] != w[3]) {
        return Status::invalid_argument(
            fmt::format("weights have shape {}: a conv layer needs (Cout, Cin, k, k)", ws));
      }
      s.out_channels = w[0];
      s.in_channels = w[1];
      s.kernel = w[2];
      break;
    case LayerKind::kDepthwise:
      if (w.size() != 4 || w[1] != 1 || w[2] != w[3]) {
        return Status::invalid_argument(
            fmt::format("weights have shape {}: a depthwise layer needs (C, 1, k, k)", ws));
      }
      s.out_channels = w[0];
      s.in_channels = w[0];
      s.kernel = w[2];
      break;
    case LayerKind::kPointwise:
      if (!((w.size() == 2) || (w.size() == 4 && w[2] == 1 && w[3] == 1))) {
        return Status::invalid_argument(fmt::format(
            "weights have shape {}: a pointwise layer needs (Cout, Cin) or (Cout, Cin, 1, 1)", ws));
      }
      s.out_channels = w[0];
      s.in_channels = w[1];
      s.kernel = 1;
      break;
  }
  if (kind != LayerKind::kDense) {
    if (input_shape.size() != 4) {
      return Status::invalid_argument(
          fmt::format("input has shape {}: a {} layer needs (N, C, H, W)",
                      Tensor{input_shape, {}}.shape_string(), to_string(kind)));
    }
    s.in_height = input_shape[2];
    s.in_width = input_shape[3];
  }
  if (Status st = validate(s); !st.is_ok()) return st;
  return s;
}

StatusOr<Layer> make_layer(LayerKind kind, Tensor weights, std::vector<double> bias,
                           std::int64_t stride, std::int64_t padding, Activation activation,
                           const Tensor& input) {
  StatusOr<LayerShape> shape = layer_shape(kind, weights.shape, stride, padding, input.shape);
  if (!shape.is_ok()) return shape.status();
  Layer layer;
  layer.shape = shape.value();
  const LayerShape& s = layer.shape;
  if (Status st = check_finite("weights", weights); !st.is_ok()) return st;
  if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != s.out_channels) {
    return Status::invalid_argument(
        fmt::format("bias has {} values, the layer has {} outputs", bias.size(), s.out_channels));
  }
  for (size_t i = 0; i < bias.size(); ++i) {
    if (!std::isfinite(bias[i]))
      return Status::invalid_argument(fmt::format("bias[{}] = {}: must be finite", i, bias[i]));
  }
  layer.weights = std::move(weights);
  layer.bias = std::move(bias);
  layer.activation = activation;
  if (Status st = validate_input(layer, input); !st.is_ok()) return st;
  return layer;
}

Status validate_input(const Layer& layer, const Tensor& input) {
  const LayerShape& s = layer.shape;
  if (s.kind == LayerKind::kDense) {
    if (input.shape.size() != 2 || input.dim(1) != s.in_channels) {
      return Status::invalid_argument(
          fmt::format("input has shape {}: the dense layer needs (N, {})", input.shape_string(),
                      s.in_channels));
    }
  } else if (input.shape.size() != 4 || input.dim(1) != s.in_channels ||
             input.dim(2) != s.in_height || input.dim(3) != s.in_width) {
    return Status::invalid_argument(
        fmt::format("input has shape {}: the layer needs (N, {}, {}, {})", input.shape_string(),
                    s.in_channels, s.in_height, s.in_width));
  }
  if (input.dim(0) < 1) return Status::invalid_argument("input holds no sample (N = 0)");
  return check_finite("input", input);
}

}  // namespace xbarnet::mapping
