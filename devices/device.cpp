#include "devices/device.hpp"

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

std::string_view to_string(InputEncoding e) {
  return e == InputEncoding::kAnalog ? "analog" : "bit_serial";
}

const core::ParameterTable<DeviceParams>& device_parameters() {
  using core::Range;
  static const auto kTable =
      core::ParameterTable<DeviceParams>("device")
          .real("r_lrs", &DeviceParams::r_lrs, "ohm", Range::between(1e-3, 1e15),
                "low-resistance state of a cell: the largest conductance G_max = 1/r_lrs "
                "(illustrative default)",
                "physical bounds: beyond them conductances and currents leave double precision")
          .real("r_hrs", &DeviceParams::r_hrs, "ohm", Range::between(1e-3, 1e18),
                "high-resistance state of a cell: the smallest conductance G_min = 1/r_hrs "
                "(illustrative default)",
                "", "r_lrs")
          .real("v_read", &DeviceParams::v_read, "V", Range::between(1e-6, 1e3),
                "word-line voltage of the largest |input|",
                "a read voltage below 1 uV would leave the currents in the noise of rounding")
          .choice("sign", &DeviceParams::sign,
                  std::array{SignScheme::kDifferential, SignScheme::kReference},
                  "how signed weights are stored: a differential column pair (G+ - G-) or one "
                  "shared reference column per array")
          .choice("quantization", &DeviceParams::quantization,
                  std::array{Quantization::kAnalog, Quantization::kBinary, Quantization::kTernary,
                             Quantization::kLevels},
                  "weight quantization before mapping")
          .integer("weight_bits", &DeviceParams::weight_bits, "bit", Range::between(1, 16),
                   "levels quantization: 2^bits conductance levels per device")
          .real("ternary_threshold", &DeviceParams::ternary_threshold, "", Range::half_open(0, 1),
                "ternary quantization: |w| <= threshold * max|w| becomes 0")
          .integer("input_bits", &DeviceParams::input_bits, "bit", Range::between(0, 16),
                   "DAC resolution of the word-line voltages (bit_serial: bits read one by one)",
                   "0 = analog")
          .choice("input_encoding", &DeviceParams::input_encoding,
                  std::array{InputEncoding::kAnalog, InputEncoding::kBitSerial},
                  "inputs as one analog voltage per vector, or bit-serial: input_bits reads of 0 "
                  "or v_read per vector, shifted and added after the ADC")
          .integer("adc_bits", &DeviceParams::adc_bits, "bit", Range::between(0, 16),
                   "ADC resolution of each column output", "0 = ideal, 1 = sense amplifier");
  return kTable;
}

Status validate(const DeviceParams& p) {
  if (Status s = device_parameters().validate(p); !s.is_ok()) return s;
  if (p.input_encoding == InputEncoding::kBitSerial && p.input_bits == 0) {
    return Status::invalid_argument(
        "input_encoding = 'bit_serial' with input_bits = 0: bit-serial inputs need input_bits "
        ">= 1 (the number of reads per input vector)");
  }
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
      bit_serial_(p.input_encoding == InputEncoding::kBitSerial),
      x_max_(x_max > 0.0 ? x_max : 1.0),
      signed_(signed_inputs),
      scale_(p.v_read / (x_max > 0.0 ? x_max : 1.0)) {}

double InputMap::quantize(double x) const {
  if (bits_ == 0) return x;
  const double steps = std::ldexp(1.0, bits_) - 1.0;
  if (bit_serial_) {
    const double m = std::round(std::min(std::abs(x) / x_max_, 1.0) * steps) / steps * x_max_;
    return x < 0.0 ? -m : m;
  }
  if (signed_) {
    const double u = std::clamp((x + x_max_) / (2.0 * x_max_), 0.0, 1.0);
    return std::round(u * steps) / steps * 2.0 * x_max_ - x_max_;
  }
  return std::round(std::clamp(x / x_max_, 0.0, 1.0) * steps) / steps * x_max_;
}

double InputMap::voltage(double x) const {
  // Beyond the full scale the DAC saturates.
  return quantize(std::clamp(x, -x_max_, x_max_)) * scale_;
}

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
