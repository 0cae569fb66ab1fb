// Device models: how weights become cell conductances, inputs become word-line voltages, and
// column outputs become digital values (ADC / sense amplifier). SI units.
//
// Weight -> conductance (linear, w_max = the layer's largest |weight|):
//   differential pair: G+ = G_min + a max(q, 0),  G- = G_min + a max(-q, 0),  a = (G_max - G_min) /
//   w_max
//                      so G+ - G- = a q: the weight is read as I+ - I-.
//   reference column:  G = G_ref + a q,  G_ref = (G_min + G_max) / 2,  a = (G_max - G_min) / (2
//   w_max),
//                      and one column per array holds G_ref: the weight is read as I_j - I_ref.
// q is the weight after quantization (analog: q = w). G_min = 1/R_HRS, G_max = 1/R_LRS.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/parameter.hpp"
#include "core/status.hpp"

namespace xbarnet::devices {

enum class SignScheme { kDifferential, kReference };
enum class Quantization { kAnalog, kBinary, kTernary, kLevels };
// How an input reaches its word line: one analog voltage per input vector (through a DAC of
// input_bits), or bit-serial: input_bits reads per vector, one per bit of the input's magnitude
// (0 or v_read on the word line), each read digitised and the reads shifted and added after the
// ADC (negative inputs in a second pass, subtracted).
enum class InputEncoding { kAnalog, kBitSerial };

std::string_view to_string(SignScheme s);
std::string_view to_string(Quantization q);
std::string_view to_string(InputEncoding e);

struct DeviceParams {
  double r_lrs = 10e3;   // ohm, low-resistance state: G_max = 1 / r_lrs
  double r_hrs = 100e3;  // ohm, high-resistance state: G_min = 1 / r_hrs
  double v_read = 0.2;   // V, the largest |word-line voltage| (full-scale input)
  SignScheme sign = SignScheme::kDifferential;
  Quantization quantization = Quantization::kAnalog;
  int weight_bits = 4;             // kLevels: 2^bits conductance levels per device
  double ternary_threshold = 0.5;  // kTernary: |w| <= threshold * w_max becomes 0
  int input_bits = 0;              // DAC resolution; 0 = analog inputs
  InputEncoding input_encoding = InputEncoding::kAnalog;  // kBitSerial needs input_bits >= 1
  int adc_bits = 0;  // ADC resolution per column output; 0 = ideal (no ADC error)
};

// The declared device parameters: the [device] table of a layer config, its validation, the
// JSON report and docs/parameters.md.
const core::ParameterTable<DeviceParams>& device_parameters();

// Field, value and rule of the first invalid parameter (from the declaration).
Status validate(const DeviceParams& p);

// The linear map of one layer (or one array) from weights to conductances.
class WeightMap {
 public:
  WeightMap(const DeviceParams& p, double w_max);

  double g_min() const { return g_min_; }
  double g_max() const { return g_max_; }
  double g_ref() const { return g_ref_; }  // reference-column conductance
  double scale() const { return scale_; }  // a [S per weight unit]
  double quantize(double w) const;         // q(w), in weight units
  // Conductances of the (+) and (-) devices of a differential pair for weight w.
  std::pair<double, double> pair(double w) const;
  // Conductance of a single device in the reference scheme for weight w.
  double single(double w) const;

 private:
  DeviceParams p_;
  double w_max_;
  double g_min_, g_max_, g_ref_, scale_;
};

// Inputs x -> word-line voltages v = x * v_read / x_max, quantized to input_bits if > 0
// (uniform over [-x_max, x_max], or [0, x_max] when no input is negative). Bit-serial inputs are
// sign and magnitude: |x| / x_max rounded to one of 2^bits - 1 steps, read bit by bit (the
// magnitude's bit p is a read at v_read weighted 2^p / (2^bits - 1)).
class InputMap {
 public:
  InputMap(const DeviceParams& p, double x_max, bool signed_inputs);
  double voltage(double x) const;
  double quantize(double x) const;  // the input value the DAC actually represents
  double volts_per_unit() const { return scale_; }
  bool bit_serial() const { return bit_serial_; }

 private:
  int bits_;
  bool bit_serial_;
  double x_max_;
  bool signed_;
  double scale_;
};

// An N-bit mid-rise uniform quantizer over [-full_scale, full_scale]; bits = 0 is ideal and
// bits = 1 is a sense amplifier (the sign, at +-full_scale / 2).
double adc(double y, int bits, double full_scale);

// ADC energy of `conversions` conversions at `bits` bits, in units of E_1, the energy of one
// comparator level: conversions x 2^bits (flash-like scaling, E(N) = E_1 2^N; E_1 itself is not
// known and not assumed). Empty for an ideal ADC (bits = 0), which has no cost to count.
std::optional<double> adc_cost_e1(std::int64_t conversions, int bits);

}  // namespace xbarnet::devices
