#include "devices/device.hpp"

#include "core/enum.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace xbarnet::devices {

std::string_view to_string(SignScheme s) {
  return s == SignScheme::kDifferential ? "differential" : "reference";
}

std::string_view to_string(Quantization q) {
  switch (q) {
    case Quantization::kAnalog:
      return "analog";
    case Quantization::kBinary:
      return "binary";
    case Quantization::kTernary:
      return "ternary";
    case Quantization::kLevels:
      return "levels";
  }
  return "unknown";
}

StatusOr<SignScheme> parse_sign_scheme(std::string_view text) {
  return core::parse_enum("sign", text, std::array{SignScheme::kDifferential, SignScheme::kReference});
}

StatusOr<Quantization> parse_quantization(std::string_view text) {
  return core::parse_enum("quantization", text,
                    std::array{Quantization::kAnalog, Quantization::kBinary, Quantization::kTernary,
                               Quantization::kLevels});
}

std::span<const core::ParameterSpec> device_parameters() {
  static constexpr std::array<core::ParameterSpec, 9> kParams{{
      {"r_lrs", "--r-lrs", "ohm", 10e3, "> 0, < r_hrs",
       "low-resistance state of a cell: the largest conductance G_max = 1/r_lrs (illustrative "
       "default)"},
      {"r_hrs", "--r-hrs", "ohm", 100e3, "> r_lrs, finite",
       "high-resistance state of a cell: the smallest conductance G_min = 1/r_hrs (illustrative "
       "default)"},
      {"v_read", "--v-read", "V", 0.2, "> 0", "word-line voltage of the largest |input|"},
      {"sign", "--sign", "", 0, "differential | reference",
       "how signed weights are stored: a differential column pair (G+ - G-) or one shared "
       "reference column per array"},
      {"quantization", "--quantization", "", 0, "analog | binary | ternary | levels",
       "weight quantization before mapping"},
      {"weight_bits", "--weight-bits", "bit", 4, "1 .. 16",
       "levels quantization: 2^bits conductance levels per device"},
      {"ternary_threshold", "--ternary-threshold", "", 0.5, "[0, 1)",
       "ternary quantization: |w| <= threshold * max|w| becomes 0"},
      {"input_bits", "--input-bits", "bit", 0, "0 .. 16 (0 = analog)",
       "DAC resolution of the word-line voltages"},
      {"adc_bits", "--adc-bits", "bit", 0, "0 .. 16 (0 = ideal, 1 = sense amplifier)",
       "ADC resolution of each column output"},
  }};
  return kParams;
}

Status validate(const DeviceParams& p) {
  auto bad = [](const char* field, double v, const char* unit, const char* rule) {
    return Status::invalid_argument(fmt::format("{} = {} {}: {}", field, v, unit, rule));
  };
  if (!(p.r_lrs > 0.0) || !std::isfinite(p.r_lrs))
    return bad("r_lrs", p.r_lrs, "ohm", "must be finite and > 0");
  if (!(p.r_hrs > p.r_lrs) || !std::isfinite(p.r_hrs)) {
    return bad("r_hrs", p.r_hrs, "ohm", "must be finite and > r_lrs");
  }
  if (!(p.v_read > 0.0) || !std::isfinite(p.v_read))
    return bad("v_read", p.v_read, "V", "must be finite and > 0");
  if (p.weight_bits < 1 || p.weight_bits > 16) {
    return bad("weight_bits", p.weight_bits, "bit", "must be in 1 .. 16");
  }
  if (!(p.ternary_threshold >= 0.0 && p.ternary_threshold < 1.0)) {
    return bad("ternary_threshold", p.ternary_threshold, "", "must be in [0, 1)");
  }
  if (p.input_bits < 0 || p.input_bits > 16)
    return bad("input_bits", p.input_bits, "bit", "must be in 0 .. 16");
  if (p.adc_bits < 0 || p.adc_bits > 16)
    return bad("adc_bits", p.adc_bits, "bit", "must be in 0 .. 16");
  return Status::ok();
}

WeightMap::WeightMap(const DeviceParams& p, double w_max)
    : p_(p), w_max_(w_max > 0.0 ? w_max : 1.0) {
  g_min_ = 1.0 / p.r_hrs;
  g_max_ = 1.0 / p.r_lrs;
  g_ref_ = 0.5 * (g_min_ + g_max_);
  scale_ = p.sign == SignScheme::kDifferential ? (g_max_ - g_min_) / w_max_
                                               : (g_max_ - g_min_) / (2.0 * w_max_);
}

double WeightMap::quantize(double w) const {
  const double s = w >= 0.0 ? 1.0 : -1.0;
  switch (p_.quantization) {
    case Quantization::kAnalog:
      return w;
    case Quantization::kBinary:
      return s * w_max_;
    case Quantization::kTernary:
      return std::abs(w) <= p_.ternary_threshold * w_max_ ? 0.0 : s * w_max_;
    case Quantization::kLevels: {
      const double steps = std::ldexp(1.0, p_.weight_bits) - 1.0;
      if (p_.sign == SignScheme::kDifferential) {
        // Each device of the pair has 2^bits levels; the magnitude goes on one of them.
        return s * std::round(std::min(std::abs(w) / w_max_, 1.0) * steps) / steps * w_max_;
      }
      // One device spans [-w_max, w_max] in 2^bits levels.
      const double u = std::clamp((w + w_max_) / (2.0 * w_max_), 0.0, 1.0);
      return std::round(u * steps) / steps * 2.0 * w_max_ - w_max_;
    }
  }
  return w;
}

std::pair<double, double> WeightMap::pair(double w) const {
  const double q = quantize(w);
  return {g_min_ + scale_ * std::max(q, 0.0), g_min_ + scale_ * std::max(-q, 0.0)};
}

double WeightMap::single(double w) const { return g_ref_ + scale_ * quantize(w); }

InputMap::InputMap(const DeviceParams& p, double x_max, bool signed_inputs)
    : bits_(p.input_bits),
      x_max_(x_max > 0.0 ? x_max : 1.0),
      signed_(signed_inputs),
      scale_(p.v_read / (x_max > 0.0 ? x_max : 1.0)) {}

double InputMap::quantize(double x) const {
  if (bits_ == 0) return x;
  const double steps = std::ldexp(1.0, bits_) - 1.0;
  if (signed_) {
    const double u = std::clamp((x + x_max_) / (2.0 * x_max_), 0.0, 1.0);
    return std::round(u * steps) / steps * 2.0 * x_max_ - x_max_;
  }
  return std::round(std::clamp(x / x_max_, 0.0, 1.0) * steps) / steps * x_max_;
}

double InputMap::voltage(double x) const { return quantize(x) * scale_; }

double adc(double y, int bits, double full_scale) {
  if (bits == 0 || !(full_scale > 0.0)) return y;
  const double levels = std::ldexp(1.0, bits);
  const double step = 2.0 * full_scale / levels;
  const double k = std::clamp(std::floor(y / step), -levels / 2.0, levels / 2.0 - 1.0);
  return (k + 0.5) * step;
}

std::optional<double> adc_cost_e1(std::int64_t conversions, int bits) {
  if (bits == 0) return std::nullopt;
  return static_cast<double>(conversions) * std::ldexp(1.0, bits);
}

}  // namespace xbarnet::devices
