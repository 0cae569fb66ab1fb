#pragma once
// Template definitions of mapping/layer.hpp.

namespace xbarnet::mapping {

template <typename WeightFn, typename InputFn>
Tensor reference_forward(const Layer& layer, const Tensor& input, WeightFn weight_of,
                         InputFn input_of) {
  const LayerShape& s = layer.shape;
  const std::int64_t n_batch = input.dim(0);
  Tensor out;
  out.shape = output_shape(s, n_batch);
  out.data.assign(static_cast<size_t>(out.size()), 0.0);
  auto bias = [&](std::int64_t m) { return layer.bias.empty() ? 0.0 : layer.bias[m]; };
  if (s.kind == LayerKind::kDense) {
    for (std::int64_t n = 0; n < n_batch; ++n) {
      for (std::int64_t m = 0; m < s.out_channels; ++m) {
        double acc = 0.0;
        for (std::int64_t k = 0; k < s.in_channels; ++k) {
          acc += weight_of(layer.weights.data[m * s.in_channels + k]) *
                 input_of(input.data[n * s.in_channels + k]);
        }
        out.data[n * s.out_channels + m] = apply_activation(layer.activation, acc + bias(m));
      }
    }
    return out;
  }
  const std::int64_t ho = s.out_height(), wo = s.out_width(), k = s.kernel;
  const std::int64_t cin = s.in_channels, h = s.in_height, w = s.in_width;
  const bool depthwise = s.kind == LayerKind::kDepthwise;
  for (std::int64_t n = 0; n < n_batch; ++n) {
    for (std::int64_t m = 0; m < s.out_channels; ++m) {
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double acc = 0.0;
          const std::int64_t c_begin = depthwise ? m : 0;
          const std::int64_t c_end = depthwise ? m + 1 : cin;
          for (std::int64_t c = c_begin; c < c_end; ++c) {
            for (std::int64_t ky = 0; ky < k; ++ky) {
              const std::int64_t iy = oy * s.stride - s.padding + ky;
              if (iy < 0 || iy >= h) continue;
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t ix = ox * s.stride - s.padding + kx;
                if (ix < 0 || ix >= w) continue;
                const std::int64_t wc = depthwise ? 0 : c;
                const std::int64_t w_cin = depthwise ? 1 : cin;
                const double wv = layer.weights.data[((m * w_cin + wc) * k + ky) * k + kx];
                acc += weight_of(wv) * input_of(input.data[((n * cin + c) * h + iy) * w + ix]);
              }
            }
          }
          out.data[((n * s.out_channels + m) * ho + oy) * wo + ox] =
              apply_activation(layer.activation, acc + bias(m));
        }
      }
    }
  }
  return out;
}

}  // namespace xbarnet::mapping
