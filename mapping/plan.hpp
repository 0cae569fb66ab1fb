// Lowering a layer to matrix-vector form and tiling it onto unit crossbars.
//
// Every layer becomes out[v, m] = sum_k W[m, k] x_v[k] for input vectors x_v gathered from the
// layer's input (one per position v), and a scheme decides how W is cut into unit arrays:
//   im2col     time-multiplexed: W is the unrolled kernel (Cin k k rows, Cout columns), cut into
//              R-row tiles whose partial sums are added digitally after the ADC;
//   subimage   sub-image partitioning (stride 1): W maps one sub-image with its (k-1)-pixel halo
//              (rows: (s+k-1)^2 pixels x channels) to its s x s outputs (columns); every
//              sub-image of an image has its own copy of the arrays;
//   split      input splitting: the fan-in is cut into G equal groups of at most R rows (G =
//              ceil(K/R), raised until it divides K, Kim et al.'s rule; when no divisor lies
//              within 2 ceil(K/R), ceil(K/R) groups whose sizes differ by at most one row, and
//              the plan's note says so), each group digitised on its own and merged without
//              analog partial sums (sum or majority).
// Depthwise kernels make W block diagonal (one block per channel): blocks are packed whole into
// arrays, several per array when they fit.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/parameter.hpp"
#include "devices/device.hpp"
#include "mapping/layer.hpp"

namespace xbarnet::mapping {

enum class Scheme { kIm2col, kSubImage, kInputSplit };
enum class Merge { kSum, kMajority };

std::string_view to_string(Scheme s);
std::string_view to_string(Merge m);

struct ArrayShape {
  std::int64_t rows = 128;
  std::int64_t cols = 128;
};

struct MappingOptions {
  Scheme scheme = Scheme::kIm2col;
  ArrayShape array;
  std::int64_t subimage = 0;  // sub-image output side s; 0 = the largest whose rows fit an array
  Merge merge = Merge::kSum;  // input splitting
  // Input splitting is reported next to the partial-sum baseline (im2col) digitised with this
  // many bits (a high-resolution ADC).
  int baseline_adc_bits = 8;
};

// The declared mapping parameters ([mapping] of a layer config, reports, docs/parameters.md).
const core::ParameterTable<MappingOptions>& mapping_parameters();
Status validate(const MappingOptions& o);

struct Lowering {
  std::int64_t outputs = 0;        // M
  std::int64_t inputs = 0;         // K
  std::int64_t block_outputs = 0;  // > 0: W is block diagonal with blocks of this many outputs
  std::int64_t block_inputs = 0;   //        and this many inputs
  std::int64_t positions_per_sample = 1;  // input vectors per sample of the batch
  std::int64_t copies = 1;    // physical copies of the array set (sub-images side by side)
  std::int64_t subimage = 0;  // s (sub-image scheme)
  std::int64_t halo_rows_per_copy = 0;  // rows carrying halo pixels in one copy
};

struct TileSpec {
  std::int64_t k0 = 0, nk = 0;  // rows: lowered inputs [k0, k0 + nk)
  std::int64_t m0 = 0, nm = 0;  // outputs [m0, m0 + nm)
  std::int64_t group = 0;       // row group: partial-sum or split-group index
};

struct Plan {
  MappingOptions options;
  devices::SignScheme sign = devices::SignScheme::kDifferential;  // from the device parameters
  Lowering lowering;
  std::vector<TileSpec> tiles;
  std::int64_t groups = 1;             // row groups per output
  std::int64_t outputs_per_array = 0;  // C/2 (differential) or C-1 (reference)
  std::int64_t arrays = 0;             // tiles x copies
  std::int64_t cells_total = 0;        // arrays x R x C
  std::int64_t cells_used = 0;         // cells holding a weight or a reference, all copies
  double utilisation = 0.0;            // cells_used / cells_total
  std::int64_t halo_rows = 0;          // rows on halos, all copies
  std::string note;                    // a deviation from the scheme asked for, said in reports
};

// `sign` (a device parameter) decides the columns per output: 2 (differential pair) or 1 plus one
// reference column per array.
StatusOr<Plan> plan(const LayerShape& shape, const MappingOptions& options,
                    devices::SignScheme sign = devices::SignScheme::kDifferential);

// The lowered weights W (M x K) of a layer under a plan's lowering, and which entries hold a
// weight of the layer at all: the others are structural zeros (outside a depthwise block, or a
// tap a sub-image's Toeplitz form does not use), never quantized.
struct LoweredWeights {
  Eigen::MatrixXd w;
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic> present;
};
LoweredWeights lowered_weights(const Layer& layer, const Lowering& lowering);

// Entry (m, row) of the lowered W: whether it holds a weight of the layer, and which (flat index
// into layer.weights). The one statement of the lowering's structure; lowered_weights() and the
// plan's cell counts both use it.
struct LoweredEntry {
  bool present = false;
  std::int64_t weight_index = -1;
};
LoweredEntry lowered_entry(const LayerShape& shape, const Lowering& lowering, std::int64_t m,
                           std::int64_t row);

// Input vector of position v (v = sample * positions_per_sample + p), rows [k0, k0 + nk).
void gather(const LayerShape& shape, const Lowering& lowering, const Tensor& input, std::int64_t v,
            std::int64_t k0, std::int64_t nk, double* out);

// Flat index in the output tensor of (v, m); -1 when it falls outside the output image
// (sub-images at the right and bottom edges).
std::int64_t scatter(const LayerShape& shape, const Lowering& lowering, std::int64_t v,
                     std::int64_t m);

}  // namespace xbarnet::mapping
