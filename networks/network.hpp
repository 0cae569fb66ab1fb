// Networks of layers: a sequence of weighted layers (conv, depthwise, pointwise, dense, each
// mapped onto its own crossbars) and the operations between them that a chip does digitally
// (max and average pooling, ReLU, flatten, residual add). Images are NCHW; one sample's shape is
// (C, H, W) or, after a flatten or a dense layer, (K).
//
// The float network (float_forward) is the ideal path: every weighted layer computed directly in
// double precision (mapping::reference_forward), no lowering and no arrays.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/parameter.hpp"
#include "core/status.hpp"
#include "mapping/layer.hpp"
#include "mapping/plan.hpp"

namespace xbarnet::networks {

using mapping::Tensor;

enum class StepKind { kWeighted, kMaxPool, kAvgPool, kRelu, kFlatten, kAdd };

std::string_view to_string(StepKind k);

// A step as described (a network config's [[layer]]), before its shapes are known.
struct StepSpec {
  std::string name;  // unique in the network
  // conv | depthwise | pointwise | dense (weighted) | maxpool | avgpool | relu | flatten | add
  std::string kind;
  // Weighted steps: the layer's weights and bias (shapes as mapping::make_layer), its stride,
  // padding and activation, and its own mapping keys (scheme, array, ...: set over the network's
  // mapping, by mapping::mapping_parameters()).
  Tensor weights;
  std::vector<double> bias;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  mapping::Activation activation = mapping::Activation::kNone;
  std::vector<std::pair<std::string, core::Value>> mapping;
  // Pooling: a kernel x kernel window moved by `stride` (no padding).
  std::int64_t kernel = 0;
  std::int64_t pool_stride = 0;  // 0: = kernel
  // add: the name of the earlier step whose output is added to the previous step's output.
  std::string from;
};

// The kinds a step may have, and which keys of a [[layer]] table belong to which kind: "" when
// `key` belongs to a step of `kind` (name and kind belong to every step), else the rule, e.g.
// "is a key of pooling layers only". The config reader and the Python package both ask it.
inline constexpr std::array<std::string_view, 9> kStepKinds = {
    "conv", "depthwise", "pointwise", "dense", "maxpool", "avgpool", "relu", "flatten", "add"};
std::string step_key_rule(std::string_view kind, std::string_view key);
// conv, depthwise, pointwise, dense: the kinds with weights (on crossbars).
bool is_weighted_kind(std::string_view kind);
// maxpool, avgpool.
bool is_pooling_kind(std::string_view kind);

// Refuses images holding a value that is not finite (names the first, its flat index and the
// images' shape).
Status check_finite_images(const Tensor& images);

// A step with its shapes resolved.
struct Step {
  std::string name;
  StepKind kind = StepKind::kRelu;
  mapping::Layer layer;                                      // kWeighted
  std::vector<std::pair<std::string, core::Value>> mapping;  // kWeighted: its own mapping keys
  std::int64_t kernel = 0, stride = 0;                       // pooling
  std::int64_t from = -1;                                    // kAdd: index of the step added
  std::vector<std::int64_t> in_shape;                        // one sample's input
  std::vector<std::int64_t> out_shape;                       // one sample's output
};

struct Network {
  std::string name;
  std::vector<std::int64_t> input_shape;  // one image: (C, H, W)
  std::int64_t classes = 0;               // the last step's outputs: the class scores
  std::vector<Step> steps;

  // Indices of the weighted steps, in order.
  std::vector<std::size_t> weighted_steps() const;
};

// Resolves every step's shapes from the input shape on and checks them: a step whose input does
// not fit (a weighted layer's channels or a dense layer's inputs against the previous output, a
// pooling window larger than the image, an add of different shapes), unknown kinds, duplicate
// names, an add from a later step, and a last step that does not give `classes` scores. Every
// message names the step.
StatusOr<Network> make_network(std::string name, std::vector<std::int64_t> input_shape,
                               std::int64_t classes, std::vector<StepSpec> steps);

// The operation of a step without weights on a batch (N, one sample's in_shape...); `added` is
// the output of step `from` for kAdd (else unused).
Tensor apply_operation(const Step& step, const Tensor& input, const Tensor* added);

// The float network on a batch of images (N, C, H, W): the class scores (N, classes).
StatusOr<Tensor> float_forward(const Network& net, const Tensor& images);

// The predicted class of each sample of (N, classes) scores: the index of the largest (the first
// of equal ones).
std::vector<std::int64_t> predictions(const Tensor& scores);

// The batch's samples [begin, end) of a tensor (N, ...).
Tensor slice_samples(const Tensor& t, std::int64_t begin, std::int64_t end);

}  // namespace xbarnet::networks
