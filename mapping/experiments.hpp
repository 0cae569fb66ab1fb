// The layer-level experiments of the source papers, as functions returning structs (the CLI and
// the Python package only format them):
//   * input splitting next to the partial-sum baseline (Kim et al.): arrays, error, ADC cost;
//   * a 3D-kernel convolution next to its 2D (depthwise) + 1D (pointwise) replacement: arrays;
//   * the counts of a whole network of layer shapes at several array sizes;
//   * one layer simulated on several square array sizes (128 vs 256 and others).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.hpp"
#include "mapping/simulate.hpp"

namespace xbarnet::mapping {

// ADC energy of a report in units of E_1 (devices::adc_cost_e1): empty for an ideal ADC.
std::optional<double> adc_cost_e1(const LayerReport& report);

// Input splitting against its baseline: the same layer time-multiplexed (im2col), its row tiles'
// partial sums digitised by a high-resolution ADC (options.mapping.baseline_adc_bits) and added.
struct SplitComparison {
  SimulationOptions baseline_options;
  LayerReport baseline;
  std::optional<double> split_cost_e1;     // empty: the split layer's ADC is ideal
  std::optional<double> baseline_cost_e1;  // empty: baseline_adc_bits = 0 (ideal)
  // baseline cost / split cost; empty when either is ideal (no finite ratio).
  std::optional<double> cost_ratio;
  // ADC energy per batch [J] by the energy model of options.adc (devices/adc.hpp), and
  // baseline / split (empty when either ADC is ideal).
  double split_energy = 0.0;
  double baseline_energy = 0.0;
  std::optional<double> energy_ratio;
};
// `calibration`: as for simulate() (the baseline uses the same one).
StatusOr<SplitComparison> compare_with_partial_sums(const Layer& layer, const Tensor& input,
                                                    const SimulationOptions& split_options,
                                                    const LayerReport& split,
                                                    const Tensor* calibration = nullptr);

// A k x k 3D-kernel convolution (k > 1) replaced by a depthwise k x k + pointwise 1 x 1 pair with
// the same input, output and stride (the pointwise layer runs on the depthwise output).
struct KernelSplit {
  Plan depthwise;
  Plan pointwise;
  std::int64_t arrays = 0;     // depthwise + pointwise
  std::int64_t halo_rows = 0;  // depthwise + pointwise
};
// Empty for layers that are not 3D-kernel convolutions with k > 1.
StatusOr<std::optional<KernelSplit>> depthwise_pointwise(const LayerShape& shape,
                                                         const MappingOptions& options,
                                                         devices::SignScheme sign);

// The plans of a list of layer shapes at each array size (square; empty sizes: options.array).
struct LayerCounts {
  std::int64_t array_rows = 0, array_cols = 0;
  Plan plan;
  std::optional<KernelSplit> kernel_split;
};
struct NetworkCounts {
  std::vector<std::vector<LayerCounts>> layers;  // [layer][size]
  struct Total {
    std::int64_t array_rows = 0, array_cols = 0;
    std::int64_t arrays = 0;
    std::int64_t arrays_2d1d = 0;  // with every 3D-kernel conv (k > 1) as 2D + 1D
  };
  std::vector<Total> totals;  // [size]
};
// Fails with the index of the first layer that cannot be mapped.
StatusOr<NetworkCounts> count_network(const std::vector<LayerShape>& shapes,
                                      const MappingOptions& options, devices::SignScheme sign,
                                      const std::vector<std::int64_t>& square_sizes);

// One layer on square arrays of each size (the other options as given).
StatusOr<std::vector<SimulationResult>> compare_array_sizes(const Layer& layer, const Tensor& input,
                                                            const SimulationOptions& options,
                                                            const std::vector<std::int64_t>& sizes,
                                                            const Tensor* calibration = nullptr);

}  // namespace xbarnet::mapping
