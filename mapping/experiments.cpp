#include "mapping/experiments.hpp"

#include <fmt/format.h>

namespace xbarnet::mapping {

std::optional<double> adc_cost_e1(const LayerReport& report) {
  return devices::adc_cost_e1(report.adc_conversions, report.adc_bits);
}

StatusOr<SplitComparison> compare_with_partial_sums(const Layer& layer, const Tensor& input,
                                                    const SimulationOptions& split_options,
                                                    const LayerReport& split,
                                                    const Tensor* calibration) {
  SplitComparison c;
  c.baseline_options = split_options;
  c.baseline_options.mapping.scheme = Scheme::kIm2col;
  c.baseline_options.device.adc_bits = split_options.mapping.baseline_adc_bits;
  c.baseline_options.ir_drop = false;
  StatusOr<SimulationResult> base = simulate(layer, input, c.baseline_options, {}, calibration);
  if (!base.is_ok()) return base.status();
  c.baseline = std::move(base.value().report);
  c.split_cost_e1 = adc_cost_e1(split);
  c.baseline_cost_e1 = adc_cost_e1(c.baseline);
  if (c.split_cost_e1 && c.baseline_cost_e1 && *c.split_cost_e1 > 0.0) {
    c.cost_ratio = *c.baseline_cost_e1 / *c.split_cost_e1;
  }
  c.split_energy = split.adc_energy;
  c.baseline_energy = c.baseline.adc_energy;
  if (c.split_energy > 0.0 && c.baseline_energy > 0.0) {
    c.energy_ratio = c.baseline_energy / c.split_energy;
  }
  return c;
}

StatusOr<std::optional<KernelSplit>> depthwise_pointwise(const LayerShape& shape,
                                                         const MappingOptions& options,
                                                         devices::SignScheme sign) {
  if (shape.kind != LayerKind::kConv || shape.kernel <= 1) return std::optional<KernelSplit>{};
  LayerShape dw = shape;
  dw.kind = LayerKind::kDepthwise;
  dw.out_channels = dw.in_channels;
  LayerShape pw = shape;
  pw.kind = LayerKind::kPointwise;
  pw.kernel = 1;
  pw.padding = 0;
  pw.stride = 1;
  pw.in_height = shape.out_height();
  pw.in_width = shape.out_width();
  StatusOr<Plan> pd = plan(dw, options, sign);
  if (!pd.is_ok()) return pd.status();
  StatusOr<Plan> pp = plan(pw, options, sign);
  if (!pp.is_ok()) return pp.status();
  KernelSplit k{std::move(pd).value(), std::move(pp).value(), 0, 0};
  k.arrays = k.depthwise.arrays + k.pointwise.arrays;
  k.halo_rows = k.depthwise.halo_rows + k.pointwise.halo_rows;
  return std::optional<KernelSplit>(std::move(k));
}

StatusOr<NetworkCounts> count_network(const std::vector<LayerShape>& shapes,
                                      const MappingOptions& options, devices::SignScheme sign,
                                      const std::vector<std::int64_t>& square_sizes) {
  std::vector<ArrayShape> arrays;
  if (square_sizes.empty()) arrays.push_back(options.array);
  for (std::int64_t n : square_sizes) arrays.push_back({n, n});
  NetworkCounts out;
  for (const ArrayShape& a : arrays) out.totals.push_back({a.rows, a.cols, 0, 0});
  for (size_t l = 0; l < shapes.size(); ++l) {
    std::vector<LayerCounts>& row = out.layers.emplace_back();
    for (size_t s = 0; s < arrays.size(); ++s) {
      MappingOptions o = options;
      o.array = arrays[s];
      StatusOr<Plan> p = plan(shapes[l], o, sign);
      if (!p.is_ok()) {
        return Status(p.status().code(), fmt::format("layer {}: {}", l, p.status().message()));
      }
      StatusOr<std::optional<KernelSplit>> k = depthwise_pointwise(shapes[l], o, sign);
      if (!k.is_ok()) {
        return Status(k.status().code(),
                      fmt::format("layer {} as 2D+1D: {}", l, k.status().message()));
      }
      LayerCounts lc{arrays[s].rows, arrays[s].cols, std::move(p).value(), std::move(k).value()};
      out.totals[s].arrays += lc.plan.arrays;
      out.totals[s].arrays_2d1d += lc.kernel_split ? lc.kernel_split->arrays : lc.plan.arrays;
      row.push_back(std::move(lc));
    }
  }
  return out;
}

StatusOr<std::vector<SimulationResult>> compare_array_sizes(const Layer& layer, const Tensor& input,
                                                            const SimulationOptions& options,
                                                            const std::vector<std::int64_t>& sizes,
                                                            const Tensor* calibration) {
  if (sizes.empty())
    return Status::invalid_argument("arrays: give at least one size, e.g. 128,256");
  std::vector<SimulationResult> out;
  for (std::int64_t n : sizes) {
    SimulationOptions o = options;
    o.mapping.array = {n, n};
    StatusOr<SimulationResult> r = simulate(layer, input, o, {}, calibration);
    if (!r.is_ok()) {
      return Status(r.status().code(), fmt::format("{}x{} arrays: {}", n, n, r.status().message()));
    }
    out.push_back(std::move(r).value());
  }
  return out;
}

}  // namespace xbarnet::mapping
