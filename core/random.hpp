// Reproducible random numbers: the same values from the same seed with every standard library
// (std::uniform_real_distribution and std::normal_distribution are not specified bit for bit).
#pragma once

#include <cmath>
#include <numbers>
#include <random>

namespace xbarnet::core {

using Rng = std::mt19937_64;

// Uniform in [0, 1) from the top 53 bits.
inline double unit_uniform(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform in [lo, hi).
inline double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * unit_uniform(rng); }

// Standard normal (Box-Muller; one draw per call).
inline double normal(Rng& rng) {
  const double u1 = 1.0 - unit_uniform(rng);
  const double u2 = unit_uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace xbarnet::core
