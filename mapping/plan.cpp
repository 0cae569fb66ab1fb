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
                   "ADC of this many bits and reports both",
                   "0 = ideal");
  return kTable;
}

Status validate(const MappingOptions& o) { return mapping_parameters().validate(o); }

LoweredEntry lowered_entry(const LayerShape& s, const Lowering& l, std::int64_t m,
                           std::int64_t row) {
  const std::int64_t k = s.kernel;
  const bool depthwise = s.kind == LayerKind::kDepthwise;
  if (l.subimage == 0) {
    if (!depthwise) return {true, m * l.inputs + row};  // (M, K) row-major = (Cout, Cin, k, k)
    // Block diagonal: channel m holds rows [m k^2, (m+1) k^2), its kernel (m, 0, ky, kx).
    if (row / (k * k) != m) return {false, -1};
    return {true, row};
  }
  // Sub-image (Toeplitz) form: output (co, oy, ox) of the s x s sub-image, input (c, py, px) of
  // its haloed (s+k-1) x (s+k-1) patch; tap (ky, kx) = (py - oy, px - ox).
  const std::int64_t side = l.subimage;
  const std::int64_t in_side = side + k - 1;
  const std::int64_t co = m / (side * side), oy = (m / side) % side, ox = m % side;
  const std::int64_t c = row / (in_side * in_side);
  const std::int64_t ky = (row / in_side) % in_side - oy, kx = row % in_side - ox;
  if (ky < 0 || ky >= k || kx < 0 || kx >= k || (depthwise && c != co)) return {false, -1};
  const std::int64_t w_cin = depthwise ? 1 : s.in_channels;
  const std::int64_t wc = depthwise ? 0 : c;
  return {true, ((co * w_cin + wc) * k + ky) * k + kx};
}

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Entries of the lowered W that hold a weight of the layer, in a tile's rectangle.
std::int64_t weights_in_tile(const LayerShape& s, const Lowering& l, const TileSpec& t) {
  if (l.subimage == 0 && s.kind != LayerKind::kDepthwise) return t.nk * t.nm;  // dense W
  if (l.subimage == 0) {
    // Depthwise im2col: output m holds rows [m k^2, (m+1) k^2).
    const std::int64_t kk = s.kernel * s.kernel;
    std::int64_t n = 0;
    for (std::int64_t m = t.m0; m < t.m0 + t.nm; ++m) {
      n += std::max<std::int64_t>(0, std::min((m + 1) * kk, t.k0 + t.nk) - std::max(m * kk, t.k0));
    }
    return n;
  }
  // Sub-image: output (co, oy, ox) holds, for each channel c (c = co for depthwise kernels) and
  // tap row ky, the k consecutive rows from (c in_side + oy + ky) in_side + ox (lowered_entry).
  const std::int64_t k = s.kernel, side = l.subimage, in_side = side + k - 1;
  const std::int64_t plane = in_side * in_side;
  const std::int64_t lo = t.k0, hi = t.k0 + t.nk;
  std::int64_t n = 0;
  for (std::int64_t m = t.m0; m < t.m0 + t.nm; ++m) {
    const std::int64_t co = m / (side * side), oy = (m / side) % side, ox = m % side;
    std::int64_t c_begin = lo / plane, c_end = (hi - 1) / plane + 1;  // channels in the tile
    if (s.kind == LayerKind::kDepthwise) {
      c_begin = std::max(c_begin, co);
      c_end = std::min(c_end, co + 1);
    }
    for (std::int64_t c = c_begin; c < c_end; ++c) {
      for (std::int64_t ky = 0; ky < k; ++ky) {
        const std::int64_t start = (c * in_side + oy + ky) * in_side + ox;
        n += std::max<std::int64_t>(0, std::min(start + k, hi) - std::max(start, lo));
      }
    }
  }
  return n;
}

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

  // A plan lists its tiles; beyond kMaxTiles it is not a plan but a mistake (and its list alone
  // would take gigabytes). Counted before anything is listed.
  constexpr std::int64_t kMaxTiles = 10'000'000;
  const std::int64_t column_tiles_bound = ceil_div(l.outputs, opa) + 1;
  if (ceil_div(l.inputs, rows) > kMaxTiles ||
      ceil_div(l.inputs, rows) * column_tiles_bound > 2 * kMaxTiles) {
    return Status::invalid_argument(fmt::format(
        "the layer would need about {} x {} tiles of {} x {} cells: more than {} tiles",
        ceil_div(l.inputs, rows), column_tiles_bound - 1, rows, options.array.cols, kMaxTiles));
  }

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
    // Cells holding a weight of the layer (both devices of a pair), and the reference column.
    used += weights_in_tile(shape, l, t) * (differential ? 2 : 1) + (differential ? 0 : t.nk);
  }
  p.cells_used = used * l.copies;
  p.utilisation = static_cast<double>(p.cells_used) / static_cast<double>(p.cells_total);
  p.halo_rows = l.halo_rows_per_copy * l.copies;
  return p;
}

LoweredWeights lowered_weights(const Layer& layer, const Lowering& l) {
  LoweredWeights result;
  result.w = Eigen::MatrixXd::Zero(l.outputs, l.inputs);
  result.present.setZero(l.outputs, l.inputs);
  for (std::int64_t row = 0; row < l.inputs; ++row) {
    for (std::int64_t m = 0; m < l.outputs; ++m) {
      const LoweredEntry e = lowered_entry(layer.shape, l, m, row);
      if (!e.present) continue;
      result.w(m, row) = layer.weights.data[static_cast<size_t>(e.weight_index)];
      result.present(m, row) = 1;
    }
  }
  return result;
}

void gather(const LayerShape& s, const Lowering& l, const Tensor& input, std::int64_t v,
            std::int64_t k0, std::int64_t nk, double* out) {
  XBARNET_ASSERT(v >= 0 && v < input.dim(0) * l.positions_per_sample, "gather: vector index");
  XBARNET_ASSERT(k0 >= 0 && nk >= 0 && k0 + nk <= l.inputs, "gather: rows outside the lowering");
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
  XBARNET_ASSERT(v >= 0 && m >= 0 && m < l.outputs, "scatter: index outside the lowering");
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
