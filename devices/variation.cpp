#include "devices/variation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/assert.hpp"

namespace xbarnet::devices {

namespace {

// splitmix64's output function (Steele, Lea, Flood 2014), the increment included: a bijection
// of 64-bit words whose outputs of consecutive inputs pass BigCrush.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return splitmix64(h ^ splitmix64(v)); }

// What a draw is for, so that a read stream never reproduces a programming stream.
constexpr std::uint64_t kProgramDomain = 0x70726F6772616DULL;  // "program"
constexpr std::uint64_t kReadDomain = 0x72656164ULL;           // "read"

// The counter-based generator of one cell: draw k is splitmix64(key + k * golden), i.e. the
// splitmix64 sequence started at the cell's key.
class CellRng {
 public:
  explicit CellRng(std::uint64_t key) : state_(key) {}
  std::uint64_t bits() {
    const std::uint64_t out = splitmix64(state_);
    state_ += 0x9E3779B97F4A7C15ULL;
    return out;
  }
  // Uniform in [0, 1) from the top 53 bits (as core::unit_uniform).
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller, one draw per call, as core::normal).
  double normal() {
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t state_;
};

std::uint64_t cell_key(std::uint64_t domain, std::int64_t seed, std::uint64_t stream,
                       std::int64_t i, std::int64_t j) {
  std::uint64_t h = mix(splitmix64(static_cast<std::uint64_t>(seed)), domain);
  h = mix(h, stream);
  h = mix(h, static_cast<std::uint64_t>(i));
  return mix(h, static_cast<std::uint64_t>(j));
}

}  // namespace

std::string_view to_string(VariationDistribution d) {
  switch (d) {
    case VariationDistribution::kNone:
      return "none";
    case VariationDistribution::kNormal:
      return "normal";
    case VariationDistribution::kLognormal:
      return "lognormal";
  }
  return "unknown";
}

const core::ParameterTable<VariationParams>& variation_parameters() {
  using core::Range;
  static const auto kTable =
      core::ParameterTable<VariationParams>("variation")
          .choice("distribution", &VariationParams::distribution,
                  std::array{VariationDistribution::kNone, VariationDistribution::kNormal,
                             VariationDistribution::kLognormal},
                  "programming variation of a cell around its target G_t, with n standard "
                  "normal: normal G = G_t (1 + s n); lognormal G = G_t exp(s n - s^2/2) "
                  "(mean-preserving); clipped below at g_floor_ratio * G_min")
          .real("sigma_lrs", &VariationParams::sigma_lrs, "", Range::between(0, 10),
                "relative sigma s of a cell programmed at G_max (LRS); between G_min and G_max "
                "s is linear in G",
                "needs distribution 'normal' or 'lognormal'")
          .real("sigma_hrs", &VariationParams::sigma_hrs, "", Range::between(0, 10),
                "relative sigma s of a cell programmed at G_min (HRS)",
                "needs distribution 'normal' or 'lognormal'")
          .real("write_verify_tolerance", &VariationParams::write_verify_tolerance, "",
                Range::half_open(0, 1),
                "write-verify band: a cell is re-programmed until |G - G_t| <= tolerance * G_t "
                "or max_verify_pulses pulses are spent",
                "0 = no write-verify")
          .integer("max_verify_pulses", &VariationParams::max_verify_pulses, "",
                   Range::between(1, 1e6), "program-verify pulses per cell at most")
          .real("stuck_lrs_rate", &VariationParams::stuck_lrs_rate, "", Range::between(0, 1),
                "probability that a cell is stuck at G_max (LRS)",
                "stuck_lrs_rate + stuck_hrs_rate <= 1")
          .real("stuck_hrs_rate", &VariationParams::stuck_hrs_rate, "", Range::between(0, 1),
                "probability that a cell is stuck at G_min (HRS)",
                "stuck_lrs_rate + stuck_hrs_rate <= 1")
          .real("read_noise", &VariationParams::read_noise, "", Range::between(0, 10),
                "relative sigma of each cell's conductance at each read (independent Gaussian "
                "per cell and read)",
                "0 = no read noise")
          .real("g_floor_ratio", &VariationParams::g_floor_ratio, "", Range{0.0, false, 1.0, true},
                "a drawn conductance is clipped below at g_floor_ratio * G_min, so that no "
                "cell is ever programmed to a zero or negative conductance (illustrative "
                "default)")
          .integer("seed", &VariationParams::seed, "", Range::between(0, 9007199254740992.0),
                   "seed of the variation, defect and read-noise draws; a cell's draws depend "
                   "only on (seed, tile, row, column); layer k of a config draws with seed + k",
                   "at most 2^53");
  return kTable;
}

Status validate(const VariationParams& p) {
  if (Status s = variation_parameters().validate(p); !s.is_ok()) return s;
  if (!(p.stuck_lrs_rate + p.stuck_hrs_rate <= 1.0)) {
    return Status::invalid_argument(
        fmt::format("stuck_lrs_rate + stuck_hrs_rate = {:g} + {:g} = {:g}: must be <= 1 (a "
                    "cell is stuck at LRS, stuck at HRS or not stuck)",
                    p.stuck_lrs_rate, p.stuck_hrs_rate, p.stuck_lrs_rate + p.stuck_hrs_rate));
  }
  if (p.distribution == VariationDistribution::kNone) {
    for (const auto& [name, value] :
         {std::pair{"sigma_lrs", p.sigma_lrs}, std::pair{"sigma_hrs", p.sigma_hrs}}) {
      if (value != 0.0) {
        return Status::invalid_argument(fmt::format(
            "{} = {:g} with distribution = 'none': must be 0 (a sigma needs distribution "
            "'normal' or 'lognormal')",
            name, value));
      }
    }
  }
  return Status::ok();
}

ProgrammingStats& ProgrammingStats::operator+=(const ProgrammingStats& o) {
  cells += o.cells;
  stuck_lrs += o.stuck_lrs;
  stuck_hrs += o.stuck_hrs;
  verify_pulses += o.verify_pulses;
  out_of_band += o.out_of_band;
  return *this;
}

Eigen::MatrixXd program_conductances(const Eigen::MatrixXd& target, double g_min, double g_max,
                                     const VariationParams& p, std::uint64_t stream,
                                     ProgrammingStats* stats) {
  XBARNET_ASSERT(g_min > 0.0 && g_max > g_min && std::isfinite(g_max),
                 "program_conductances needs 0 < g_min < g_max");
  XBARNET_ASSERT(validate(p).is_ok(), "program_conductances of invalid VariationParams");
  ProgrammingStats local;
  local.cells = target.size();
  const bool vary = p.distribution != VariationDistribution::kNone;
  const bool verify = p.write_verify_tolerance > 0.0;
  const double stuck_any = p.stuck_lrs_rate + p.stuck_hrs_rate;
  if (!vary && !verify && stuck_any == 0.0) {
    if (stats != nullptr) *stats += local;
    return target;
  }
  const double g_floor = p.g_floor_ratio * g_min;
  const bool lognormal = p.distribution == VariationDistribution::kLognormal;

  Eigen::MatrixXd g(target.rows(), target.cols());
  for (Eigen::Index j = 0; j < target.cols(); ++j) {
    for (Eigen::Index i = 0; i < target.rows(); ++i) {
      const double gt = target(i, j);
      XBARNET_ASSERT(std::isfinite(gt) && gt > 0.0, "target conductances must be finite and > 0");
      CellRng rng(cell_key(kProgramDomain, p.seed, stream, i, j));
      // Stuck-at defects: one uniform draw, always made, so that the variation draws of a cell
      // do not depend on the defect rates' being zero or not.
      const double u = rng.uniform();
      const bool stuck_lrs = u < p.stuck_lrs_rate;
      const bool stuck_hrs = !stuck_lrs && u < stuck_any;
      local.stuck_lrs += stuck_lrs ? 1 : 0;
      local.stuck_hrs += stuck_hrs ? 1 : 0;

      const double t = std::clamp((gt - g_min) / (g_max - g_min), 0.0, 1.0);
      const double s = p.sigma_hrs + (p.sigma_lrs - p.sigma_hrs) * t;
      auto draw = [&] {
        if (stuck_lrs) return g_max;
        if (stuck_hrs) return g_min;
        if (!vary || s == 0.0) return gt;
        const double n = rng.normal();
        const double v = lognormal ? gt * std::exp(s * n - 0.5 * s * s) : gt * (1.0 + s * n);
        return std::max(v, g_floor);
      };

      double value = draw();
      if (verify) {
        const double band = p.write_verify_tolerance * gt;
        int pulses = 1;
        const bool fixed = stuck_lrs || stuck_hrs || !vary || s == 0.0;
        while (!(std::abs(value - gt) <= band) && pulses < p.max_verify_pulses) {
          if (fixed) {  // the same value at every pulse: skip to the last one
            pulses = p.max_verify_pulses;
            break;
          }
          value = draw();
          ++pulses;
        }
        local.verify_pulses += pulses;
        local.out_of_band += std::abs(value - gt) <= band ? 0 : 1;
      }
      g(i, j) = value;
    }
  }
  if (stats != nullptr) *stats += local;
  return g;
}

Eigen::MatrixXd read_noise_rms(const Eigen::MatrixXd& voltages,
                               const Eigen::MatrixXd& conductances) {
  XBARNET_ASSERT(voltages.cols() == conductances.rows(),
                 "read_noise_rms: voltages K x R and conductances R x C");
  const Eigen::MatrixXd v2 = voltages.array().square().matrix();
  const Eigen::MatrixXd g2 = conductances.array().square().matrix();
  return (v2 * g2).array().sqrt().matrix();
}

void add_read_noise(Eigen::MatrixXd& currents, const Eigen::MatrixXd& noise_rms,
                    const VariationParams& p, std::uint64_t stream, std::int64_t first_input) {
  XBARNET_ASSERT(currents.rows() == noise_rms.rows() && currents.cols() == noise_rms.cols(),
                 "add_read_noise: currents and noise_rms must have the same shape");
  if (p.read_noise == 0.0) return;
  for (Eigen::Index j = 0; j < currents.cols(); ++j) {
    for (Eigen::Index k = 0; k < currents.rows(); ++k) {
      CellRng rng(cell_key(kReadDomain, p.seed, stream, first_input + k, j));
      currents(k, j) += p.read_noise * noise_rms(k, j) * rng.normal();
    }
  }
}

std::uint64_t combine_streams(std::uint64_t a, std::uint64_t b) { return mix(splitmix64(a), b); }

}  // namespace xbarnet::devices
