#include "mapping/plan.hpp"


#include <fmt/format.h>

#include <algorithm>

namespace xbarnet::mapping {

std::string_view to_string(Scheme s) {
  switch (s) {
    case Scheme::kIm2col:
      return "im2col";
    case Scheme::kSubImage:
      return "subimage";
    case Scheme::kInputSplit:
      return "split";
  }
  return "unknown";
}

std::string_view to_string(Merge m) { return m == Merge::kSum ? "sum" : "majority"; }

const core::ParameterTable<MappingOptions>& mapping_parameters() {
  using core::Range;
  static const auto kTable =
      core::ParameterTable<MappingOptions>("mapping")
          .choice("scheme", &MappingOptions::scheme,
                  std::array{Scheme::kIm2col, Scheme::kSubImage, Scheme::kInputSplit},
                  "how a layer is cut into unit crossbars (docs/mapping.md)")
          .pair(
              "array",
              [](const MappingOptions& o) {
                return core::Value(std::vector<std::int64_t>{o.array.rows, o.array.cols});
              },
              [](MappingOptions& o, const core::Value& v) {
                const auto& a = std::get<std::vector<std::int64_t>>(v);
                o.array = {a[0], a[1]};
              },
              "cells", "rows", Range::between(1, 65536), "cols", Range::between(2, 65536),
              "size of one unit crossbar (at least 2 columns: a differential pair, or a column and "
              "its reference)")
          .integer("subimage", &MappingOptions::subimage, "pixel", Range::between(0, 65536),
                   "sub-image output side s", "0 = the largest whose haloed rows fit one array")
          .choice("merge", &MappingOptions::merge, std::array{Merge::kSum, Merge::kMajority},
                  "input splitting: how the digitised group outputs are merged")
          .integer("baseline_adc_bits", &MappingOptions::baseline_adc_bits, "bit",
                   Range::between(0, 16),
                   "input splitting: simulate also runs the partial-sum baseline (im2col) with an "
                   "ADC of this many bits and reports both", "0 = ideal");
  return kTable;
}

Status validate(const MappingOptions& o) { return mapping_parameters().validate(o); }

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

StatusOr<Lowering> lower(const LayerShape& s, const MappingOptions& o) {
  Lowering l;
  const std::int64_t k = s.kernel;
  if (o.scheme != Scheme::kSubImage || s.kind == LayerKind::kDense) {
    l.outputs = s.out_channels;
    l.inputs = s.kind == LayerKind::kDepthwise ? s.in_channels * k * k : s.fan_in();
    if (s.kind == LayerKind::kDepthwise) {
      l.block_outputs = 1;
      l.block_inputs = k * k;
    }
    l.positions_per_sample = s.kind == LayerKind::kDense ? 1 : s.out_height() * s.out_width();
    return l;
  }
  if (s.stride != 1) {
    return Status::invalid_argument(
        fmt::format("scheme = 'subimage' needs stride 1, the layer has stride {}", s.stride));
  }
  // Sub-image side: the largest s whose haloed sub-image fits the array's rows (per channel for
  // depthwise kernels), at least 1, at most the output size.
  const std::int64_t per_pixel = s.kind == LayerKind::kDepthwise ? 1 : s.in_channels;
  const std::int64_t s_max = std::min(s.out_height(), s.out_width());
  std::int64_t side = o.subimage;
  if (side == 0) {
    side = 1;
    while (side < s_max && (side + k) * (side + k) * per_pixel <= o.array.rows) ++side;
  }
  side = std::min(side, s_max);
  const std::int64_t in_side = side + k - 1;
  l.subimage = side;
  l.positions_per_sample = ceil_div(s.out_height(), side) * ceil_div(s.out_width(), side);
  l.copies = l.positions_per_sample;
  l.outputs = s.out_channels * side * side;
  l.inputs = s.in_channels * in_side * in_side;
  if (s.kind == LayerKind::kDepthwise) {
    l.block_outputs = side * side;
    l.block_inputs = in_side * in_side;
  }
  l.halo_rows_per_copy = s.in_channels * (in_side * in_side - side * side);
  return l;
}

}  // namespace

StatusOr<Plan> plan(const LayerShape& shape, const MappingOptions& options,
                    devices::SignScheme sign) {
  if (Status st = validate(shape); !st.is_ok()) return st;
  if (Status st = validate(options); !st.is_ok()) return st;
  StatusOr<Lowering> lowered = lower(shape, options);
  if (!lowered.is_ok()) return lowered.status();
  Plan p;
  p.options = options;
  p.sign = sign;
  if (options.scheme == Scheme::kSubImage && shape.kind == LayerKind::kDense) {
    p.note = "sub-image partitioning does not apply to a dense layer: mapped im2col";
  }
  p.lowering = lowered.value();
  const Lowering& l = p.lowering;
  const std::int64_t rows = options.array.rows;
  const bool differential = sign == devices::SignScheme::kDifferential;
  p.outputs_per_array = differential ? options.array.cols / 2 : options.array.cols - 1;
  const std::int64_t opa = p.outputs_per_array;

  // Tiles of a dense (sub)matrix: inputs [k_begin, k_end), outputs [m_begin, m_end).
  auto tile_dense = [&](std::int64_t k_begin, std::int64_t k_end, std::int64_t m_begin,
                        std::int64_t m_end) {
    const std::int64_t fan_in = k_end - k_begin;
    const std::int64_t fewest = ceil_div(fan_in, rows);
    std::int64_t groups = fewest;
    // Row group g covers [k_begin + start(g), k_begin + start(g) + size(g)).
    std::int64_t base = rows, extra = 0;  // im2col: full tiles of R rows, the last one partial
    if (options.scheme == Scheme::kInputSplit && fewest > 1) {
      // Kim et al.'s rule: equal groups, G raised from ceil(K/R) until it divides K. When no
      // divisor lies within 2 ceil(K/R) (a prime fan-in would end in K groups of one row),
      // ceil(K/R) groups whose sizes differ by at most one row instead, and the plan says so.
      while (groups <= 2 * fewest && fan_in % groups != 0) ++groups;
      if (groups > 2 * fewest) {
        groups = fewest;
        p.note = fmt::format(
            "input splitting: no divisor of the fan-in {} gives between {} and {} equal groups; "
            "split into {} groups of {} or {} rows instead",
            fan_in, fewest, 2 * fewest, groups, fan_in / groups + (fan_in % groups ? 1 : 0),
            fan_in / groups);
      }
      base = fan_in / groups;
      extra = fan_in % groups;  // the first `extra` groups get one row more
    }
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t k0 = k_begin + g * base + std::min(g, extra);
      const std::int64_t nk = std::min(base + (g < extra ? 1 : 0), k_end - k0);
      for (std::int64_t m0 = m_begin; m0 < m_end; m0 += opa) {
        p.tiles.push_back({k0, nk, m0, std::min(opa, m_end - m0), g});
      }
    }
    p.groups = std::max(p.groups, groups);
  };

  if (l.block_outputs == 0) {
    tile_dense(0, l.inputs, 0, l.outputs);
  } else {
    const std::int64_t blocks = l.outputs / l.block_outputs;
    const std::int64_t per_array =
        std::min(rows / l.block_inputs, opa / l.block_outputs);  // whole blocks per array
    if (per_array >= 1) {
      for (std::int64_t b0 = 0; b0 < blocks; b0 += per_array) {
        const std::int64_t nb = std::min(per_array, blocks - b0);
        p.tiles.push_back({b0 * l.block_inputs, nb * l.block_inputs, b0 * l.block_outputs,
                           nb * l.block_outputs, 0});
      }
    } else {
      for (std::int64_t b = 0; b < blocks; ++b) {
        tile_dense(b * l.block_inputs, (b + 1) * l.block_inputs, b * l.block_outputs,
                   (b + 1) * l.block_outputs);
      }
    }
  }

  p.arrays = static_cast<std::int64_t>(p.tiles.size()) * l.copies;
  p.cells_total = p.arrays * rows * options.array.cols;
  std::int64_t used = 0;
  for (const TileSpec& t : p.tiles) {
    const std::int64_t weights = l.block_outputs == 0
                                     ? t.nk * t.nm
                                     : (t.nm / l.block_outputs) * l.block_inputs * l.block_outputs;
    used += weights * (differential ? 2 : 1) + (differential ? 0 : t.nk);
  }
  p.cells_used = used * l.copies;
  p.utilisation = static_cast<double>(p.cells_used) / static_cast<double>(p.cells_total);
  p.halo_rows = l.halo_rows_per_copy * l.copies;
  return p;
}

LoweredWeights lowered_weights(const Layer& layer, const Lowering& l) {
  const LayerShape& s = layer.shape;
  const std::vector<double>& w = layer.weights.data;
  const std::int64_t k = s.kernel;
  LoweredWeights result;
  Eigen::MatrixXd& out = result.w;
  out = Eigen::MatrixXd::Zero(l.outputs, l.inputs);
  result.present.setZero(l.outputs, l.inputs);
  if (l.subimage == 0) {
    if (s.kind == LayerKind::kDepthwise) {
      for (std::int64_t c = 0; c < s.in_channels; ++c) {
        for (std::int64_t t = 0; t < k * k; ++t) {
          out(c, c * k * k + t) = w[c * k * k + t];
          result.present(c, c * k * k + t) = 1;
        }
      }
    } else {
      // dense (M, K), conv (Cout, Cin, k, k) and pointwise are already M x K in row-major order.
      for (std::int64_t m = 0; m < l.outputs; ++m) {
        for (std::int64_t i = 0; i < l.inputs; ++i) out(m, i) = w[m * l.inputs + i];
      }
      result.present.setOnes();
    }
    return result;
  }
  // Sub-image (Toeplitz) form: input (c, py, px) of the haloed sub-image, output (co, oy, ox).
  const std::int64_t side = l.subimage;
  const std::int64_t in_side = side + k - 1;
  const bool depthwise = s.kind == LayerKind::kDepthwise;
  const std::int64_t w_cin = depthwise ? 1 : s.in_channels;
  for (std::int64_t co = 0; co < s.out_channels; ++co) {
    for (std::int64_t oy = 0; oy < side; ++oy) {
      for (std::int64_t ox = 0; ox < side; ++ox) {
        const std::int64_t m = (co * side + oy) * side + ox;
        const std::int64_t c_begin = depthwise ? co : 0;
        const std::int64_t c_end = depthwise ? co + 1 : s.in_channels;
        for (std::int64_t c = c_begin; c < c_end; ++c) {
          for (std::int64_t ky = 0; ky < k; ++ky) {
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t row = (c * in_side + oy + ky) * in_side + ox + kx;
              const std::int64_t wc = depthwise ? 0 : c;
              out(m, row) = w[((co * w_cin + wc) * k + ky) * k + kx];
              result.present(m, row) = 1;
            }
          }
        }
      }
    }
  }
  return result;
}

void gather(const LayerShape& s, const Lowering& l, const Tensor& input, std::int64_t v,
            std::int64_t k0, std::int64_t nk, double* out) {
  const std::int64_t n = v / l.positions_per_sample;
  const std::int64_t pos = v % l.positions_per_sample;
  if (s.kind == LayerKind::kDense) {
    std::copy_n(input.data.data() + n * s.in_channels + k0, nk, out);
    return;
  }
  const std::int64_t h = s.in_height, w = s.in_width, cin = s.in_channels, k = s.kernel;
  auto pixel = [&](std::int64_t c, std::int64_t iy, std::int64_t ix) {
    return (iy < 0 || iy >= h || ix < 0 || ix >= w) ? 0.0
                                                    : input.data[((n * cin + c) * h + iy) * w + ix];
  };
  if (l.subimage == 0) {
    const std::int64_t wo = s.out_width();
    const std::int64_t oy = pos / wo, ox = pos % wo;
    for (std::int64_t i = 0; i < nk; ++i) {
      const std::int64_t row = k0 + i;  // (c, ky, kx)
      const std::int64_t c = row / (k * k);
      const std::int64_t ky = (row / k) % k, kx = row % k;
      out[i] = pixel(c, oy * s.stride - s.padding + ky, ox * s.stride - s.padding + kx);
    }
    return;
  }
  const std::int64_t side = l.subimage, in_side = side + k - 1;
  const std::int64_t tiles_x = (s.out_width() + side - 1) / side;
  const std::int64_t ty = pos / tiles_x, tx = pos % tiles_x;
  for (std::int64_t i = 0; i < nk; ++i) {
    const std::int64_t row = k0 + i;  // (c, py, px)
    const std::int64_t c = row / (in_side * in_side);
    const std::int64_t py = (row / in_side) % in_side, px = row % in_side;
    out[i] = pixel(c, ty * side + py - s.padding, tx * side + px - s.padding);
  }
}

std::int64_t scatter(const LayerShape& s, const Lowering& l, std::int64_t v, std::int64_t m) {
  const std::int64_t n = v / l.positions_per_sample;
  const std::int64_t pos = v % l.positions_per_sample;
  if (s.kind == LayerKind::kDense) return n * s.out_channels + m;
  const std::int64_t ho = s.out_height(), wo = s.out_width();
  if (l.subimage == 0) return (n * s.out_channels + m) * ho * wo + pos;
  const std::int64_t side = l.subimage;
  const std::int64_t tiles_x = (wo + side - 1) / side;
  const std::int64_t co = m / (side * side);
  const std::int64_t oy = (pos / tiles_x) * side + (m / side) % side;
  const std::int64_t ox = (pos % tiles_x) * side + m % side;
  if (oy >= ho || ox >= wo) return -1;
  return ((n * s.out_channels + co) * ho + oy) * wo + ox;
}

}  // namespace xbarnet::mapping
