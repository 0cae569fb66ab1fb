#include "devices/adc.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "devices/device.hpp"

namespace xbarnet::devices {

std::string_view to_string(AdcRange r) {
  switch (r) {
    case AdcRange::kBound:
      return "bound";
    case AdcRange::kFixed:
      return "fixed";
    case AdcRange::kCalibrated:
      return "calibrated";
    case AdcRange::kPercentile:
      return "percentile";
  }
  return "unknown";
}

std::string_view to_string(AdcEnergyModel m) {
  return m == AdcEnergyModel::kFlash ? "flash" : "walden";
}

const core::ParameterTable<AdcParams>& adc_parameters() {
  using core::Range;
  static const auto kTable =
      core::ParameterTable<AdcParams>("adc")
          .choice("range", &AdcParams::range,
                  std::array{AdcRange::kBound, AdcRange::kFixed, AdcRange::kCalibrated,
                             AdcRange::kPercentile},
                  "ADC full scale: 'bound' = rows * v_read * (G_max - G_min), the largest "
                  "read-out the array can produce (never clips); 'fixed' = full_scale; "
                  "'calibrated' = the largest |read-out| of the calibration batch; "
                  "'percentile' = that percentile of |read-out| over the calibration batch")
          .real("full_scale", &AdcParams::full_scale, "A", Range::at_least(0),
                "range 'fixed': the ADC converts read-outs in [-full_scale, full_scale)",
                "must be > 0 with range 'fixed'")
          .real("percentile", &AdcParams::percentile, "", Range{0.0, false, 100.0, true},
                "range 'percentile': the nearest-rank percentile of |read-out| taken as "
                "full scale (100 = 'calibrated')")
          .choice("energy_model", &AdcParams::energy_model,
                  std::array{AdcEnergyModel::kFlash, AdcEnergyModel::kWalden},
                  "energy per N-bit conversion: flash E = comparator_energy * (2^N - 1); "
                  "walden E = walden_fom * 2^N")
          .real("comparator_energy", &AdcParams::comparator_energy, "J", Range::at_least(0),
                "flash model: energy of one comparator decision (a 1-bit sense amplifier is "
                "one); default derived, not measured: 2.2 mW / 1.75 GS/s / 31 comparators of "
                "the 5-bit flash ADC of Craninckx et al. 2009 = 40.6 fJ")
          .real("walden_fom", &AdcParams::walden_fom, "J", Range::at_least(0),
                "walden model: energy per conversion step; default derived, not measured: "
                "2.2 mW / 1.75 GS/s / 2^5 for the 5-bit ADC of Craninckx et al. 2009 = 39.3 fJ");
  return kTable;
}

Status validate(const AdcParams& p) {
  if (Status s = adc_parameters().validate(p); !s.is_ok()) return s;
  if (p.range == AdcRange::kFixed && !(p.full_scale > 0.0)) {
    return Status::invalid_argument(
        fmt::format("full_scale = {:g} A with range = 'fixed': must be > 0", p.full_scale));
  }
  return Status::ok();
}

double conversion_energy(const AdcParams& p, int bits) {
  if (bits <= 0) return 0.0;
  const double levels = std::ldexp(1.0, bits);
  return p.energy_model == AdcEnergyModel::kFlash ? p.comparator_energy * (levels - 1.0)
                                                  : p.walden_fom * levels;
}

double percentile_abs(std::span<const double> values, double percentile) {
  if (values.empty()) return 0.0;
  std::vector<double> a(values.size());
  std::transform(values.begin(), values.end(), a.begin(), [](double v) { return std::abs(v); });
  const double n = static_cast<double>(a.size());
  // A decimal percentile exact on paper (99.9 % of 1000 = 999) must not be pushed one rank up
  // by its binary rounding (0.999 * 1000 = 999.0000000000001): ceil with a 1e-12 relative slack.
  const double exact = percentile / 100.0 * n;
  const double rank = std::clamp(std::ceil(exact * (1.0 - 1e-12)), 1.0, n);
  const auto k = static_cast<std::ptrdiff_t>(rank) - 1;
  std::nth_element(a.begin(), a.begin() + k, a.end());
  return a[static_cast<std::size_t>(k)];
}

double bound_full_scale(std::int64_t rows, double v_read, double g_min, double g_max) {
  return static_cast<double>(rows) * v_read * (g_max - g_min);
}

StatusOr<double> adc_full_scale(const AdcParams& p, std::span<const double> calibration,
                                double bound) {
  switch (p.range) {
    case AdcRange::kBound:
      return bound;
    case AdcRange::kFixed:
      return p.full_scale;
    case AdcRange::kCalibrated:
    case AdcRange::kPercentile: {
      if (calibration.empty()) {
        return Status::invalid_argument(fmt::format(
            "range = '{}' with an empty calibration batch: needs read-outs to calibrate on",
            to_string(p.range)));
      }
      const double fs =
          percentile_abs(calibration, p.range == AdcRange::kCalibrated ? 100.0 : p.percentile);
      if (!(fs > 0.0)) {
        return Status::invalid_argument(fmt::format(
            "range = '{}' (percentile {:g}) over {} calibration read-outs gives full scale {:g} "
            "A: must be > 0",
            to_string(p.range), p.range == AdcRange::kCalibrated ? 100.0 : p.percentile,
            calibration.size(), fs));
      }
      return fs;
    }
  }
  return bound;
}

double adc_clip(double y, int bits, double full_scale, bool* clipped) {
  const bool ideal = bits == 0 || !(full_scale > 0.0);
  if (clipped != nullptr) *clipped = !ideal && std::abs(y) > full_scale;
  return adc(y, bits, full_scale);
}

}  // namespace xbarnet::devices
