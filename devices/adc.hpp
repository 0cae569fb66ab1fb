// ADC ranges, clipping and energy. SI units (A, J).
//
// How to use it. Validate the parameters (validate(p)); pick the full scale of a layer's (or an
// array's) ADC from its range rule with adc_full_scale(), digitise each read-out with
// adc_clip() (the mid-rise quantizer of devices::adc, reporting whether the read-out was out of
// range), and cost the conversions with conversion_energy().
//
// A "read-out" is what the ADC converts: the differential (I+ - I-) or reference-subtracted
// (I_j - I_ref) current of one output.
//
// Energy per conversion at N bits (0 bits = ideal, no cost):
//   flash:  E(N) = E_1 (2^N - 1), E_1 = comparator_energy, one comparator decision per level
//           boundary; a 1-bit sense amplifier is one comparator.
//   walden: E(N) = FOM 2^N, FOM = walden_fom per conversion step.
// Default values, DERIVED (not measured) from the ADC Kim et al. cite (PAPERS.md 4.1, ref. [5]:
// Craninckx and Van der Plas, JSSC 2009, a 5-bit folding flash ADC, 2.2 mW at 1.75 GS/s in
// 90 nm CMOS): 2.2e-3 W / 1.75e9 /s = 1.257 pJ per 5-bit conversion, so
//   E_1 = 1.257 pJ / 31 comparators = 40.6 fJ,   FOM = 1.257 pJ / 2^5 = 39.3 fJ per step.
// That ADC is a folding flash (fewer physical comparators than 31), so these are energy per
// equivalent comparator level, not a comparator's measured energy.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/parameter.hpp"
#include "core/status.hpp"

namespace xbarnet::devices {

// bound:      the largest read-out the array can produce, rows * v_read * (G_max - G_min): never
//             clips, wastes resolution on read-outs that never occur;
// fixed:      full_scale given;
// calibrated: the largest |read-out| over a calibration batch (the layer pipeline reads it
//             through the programmed tile, noise-free, as a chip would measure it);
// percentile: that percentile (nearest rank) of |read-out| over the calibration batch.
enum class AdcRange { kBound, kFixed, kCalibrated, kPercentile };
enum class AdcEnergyModel { kFlash, kWalden };

std::string_view to_string(AdcRange r);        // "bound", "fixed", "calibrated", "percentile"
std::string_view to_string(AdcEnergyModel m);  // "flash", "walden"

// Craninckx et al. 2009 (PAPERS.md 4.1 ref. [5]): 2.2 mW at 1.75 GS/s, 5 bits.
inline constexpr double kCraninckxEnergyPerConversion_J = 2.2e-3 / 1.75e9;  // 1.257e-12 J
inline constexpr double kCraninckxComparatorEnergy_J = kCraninckxEnergyPerConversion_J / 31.0;
inline constexpr double kCraninckxWaldenFom_J = kCraninckxEnergyPerConversion_J / 32.0;

struct AdcParams {
  AdcRange range = AdcRange::kBound;
  double full_scale = 0.0;   // A, the full scale of range 'fixed': read-outs in [-FS, FS)
  double percentile = 99.9;  // range 'percentile': in (0, 100]
  AdcEnergyModel energy_model = AdcEnergyModel::kFlash;
  double comparator_energy = kCraninckxComparatorEnergy_J;  // J per comparator decision (E_1)
  double walden_fom = kCraninckxWaldenFom_J;                // J per conversion step
};

// The declared ADC parameters: the [adc] table of a config.
const core::ParameterTable<AdcParams>& adc_parameters();

// Field, value and rule of the first invalid parameter; range 'fixed' needs full_scale > 0.
Status validate(const AdcParams& p);

// Energy of one conversion at `bits` bits (J); 0 for bits = 0 (ideal ADC).
double conversion_energy(const AdcParams& p, int bits);

// The nearest-rank percentile of |values|: the smallest |v| such that at least percentile % of
// the |values| are <= it, i.e. the ceil(percentile / 100 * n)-th smallest (at least the first).
// 100 gives max |v|. 0 for an empty span. percentile in (0, 100]. The rank is taken with a 1e-12
// relative slack, so that 99.9 % of 1000 values is rank 999 despite binary rounding.
double percentile_abs(std::span<const double> values, double percentile);

// The largest read-out of a rows-row array: rows * v_read * (g_max - g_min) (A).
double bound_full_scale(std::int64_t rows, double v_read, double g_min, double g_max);

// The full scale (A) the range rule gives: `bound` for 'bound' (see bound_full_scale), p's
// full_scale for 'fixed', max or percentile of |calibration| (the read-outs of a calibration batch)
// for 'calibrated' and 'percentile'. An error when the calibration is empty or gives a full scale
// of 0.
StatusOr<double> adc_full_scale(const AdcParams& p, std::span<const double> calibration,
                                double bound);

struct ClipCount {
  std::int64_t clipped = 0;
  std::int64_t conversions = 0;

  void add(bool was_clipped) {
    ++conversions;
    clipped += was_clipped ? 1 : 0;
  }
  double fraction() const {
    return conversions == 0 ? 0.0 : static_cast<double>(clipped) / static_cast<double>(conversions);
  }
};

// devices::adc(y, bits, full_scale) (the N-bit mid-rise quantizer over [-FS, FS), step
// 2 FS / 2^N), and in *clipped (may be null) whether |y| > full_scale, i.e. the read-out lay
// outside the range and was saturated. An ideal ADC (bits = 0 or full_scale <= 0) never clips.
double adc_clip(double y, int bits, double full_scale, bool* clipped);

}  // namespace xbarnet::devices
