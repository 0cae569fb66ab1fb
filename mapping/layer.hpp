// Neural-network layers as xbarnet maps them: dense, convolution with 3D kernels, depthwise
// (2D kernels, one per channel) and pointwise (1D kernels, 1x1) convolution. Images are NCHW.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace xbarnet::mapping {

// A dense row-major array of doubles.
struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<double> data;

  std::int64_t size() const;
  std::int64_t dim(size_t d) const { return shape.at(d); }
  std::string shape_string() const;  // "(4, 16, 32, 32)"
};

enum class LayerKind { kDense, kConv, kDepthwise, kPointwise };
enum class Activation { kNone, kRelu, kSign };

std::string_view to_string(LayerKind k);
std::string_view to_string(Activation a);
StatusOr<LayerKind> parse_layer_kind(std::string_view text);
StatusOr<Activation> parse_activation(std::string_view text);

// The geometry of a layer: enough to count arrays, no values needed.
struct LayerShape {
  LayerKind kind = LayerKind::kDense;
  std::int64_t in_channels = 0;   // dense: inputs K
  std::int64_t out_channels = 0;  // dense: outputs M; depthwise: = in_channels
  std::int64_t kernel = 1;        // k (k x k kernels); 1 for dense and pointwise
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t in_height = 1;  // image size; 1 x 1 for dense
  std::int64_t in_width = 1;

  std::int64_t out_height() const { return (in_height + 2 * padding - kernel) / stride + 1; }
  std::int64_t out_width() const { return (in_width + 2 * padding - kernel) / stride + 1; }
  // Inputs per output of the lowered matrix-vector product (rows of the unrolled kernel).
  std::int64_t fan_in() const;
  std::string describe() const;  // "conv 3x3 64 -> 64, input 32x32, stride 1, padding 1"
  std::string brief() const;     // "conv3x3 64->64 @32x32 s1 p1"
};

Status validate(const LayerShape& s);

struct Layer {
  LayerShape shape;
  // dense (M, K); conv (Cout, Cin, k, k); depthwise (C, 1, k, k); pointwise (Cout, Cin, 1, 1)
  Tensor weights;
  std::vector<double> bias;  // empty, or one per output channel
  Activation activation = Activation::kNone;
};

// Builds the layer from its weights (shape inferred) and checks every value: names the field,
// the index and the rule. `in_height`/`in_width` come from the input.
// The shape make_layer() builds, from the weights' shape and the input's ((N, C, H, W) or (N, K))
// alone: the checks that need no values (the input's channels: validate_input()).
StatusOr<LayerShape> layer_shape(LayerKind kind, const std::vector<std::int64_t>& weight_shape,
                                 std::int64_t stride, std::int64_t padding,
                                 const std::vector<std::int64_t>& input_shape);

StatusOr<Layer> make_layer(LayerKind kind, Tensor weights, std::vector<double> bias,
                           std::int64_t stride, std::int64_t padding, Activation activation,
                           const Tensor& input);

// Checks the input batch against the layer: (N, K) for dense, (N, Cin, H, W) otherwise.
Status validate_input(const Layer& layer, const Tensor& input);

// The output shape for a batch of `batch` inputs: (N, M) or (N, Cout, Ho, Wo).
std::vector<std::int64_t> output_shape(const LayerShape& s, std::int64_t batch);

// The floating-point layer computed directly (nested loops, no lowering): the reference the
// mapped simulation is compared with. `weight_of` and `input_of` let the caller apply the same
// quantization as the devices (identity for the exact layer).
template <typename WeightFn, typename InputFn>
Tensor reference_forward(const Layer& layer, const Tensor& input, WeightFn weight_of,
                         InputFn input_of);

double apply_activation(Activation a, double y);

}  // namespace xbarnet::mapping

#include "mapping/layer_inl.hpp"
