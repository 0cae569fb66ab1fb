// Device non-idealities: programming variation, write-verify, stuck-at defects and read noise.
// SI units (S, A, V); sigmas and rates are relative numbers.
//
// How to use it. Validate the parameters once (validate(p)), then for every tile
//
//   ProgrammingStats stats;
//   Eigen::MatrixXd g = program_conductances(target, g_min, g_max, p, tile_index, &stats);
//
// turns the tile's target conductances (what the weights ask for) into the programmed ones
// (what the array holds). The ideal reference keeps using `target`. Per read, the column
// currents of a batch of K input vectors get the read noise with
//
//   const Eigen::MatrixXd rms = read_noise_rms(voltages /*K x R*/, g /*R x C*/);
//   add_read_noise(currents /*K x C*/, rms, p, read_stream);
//
// Reproducibility: every random number is a counter-based draw, a hash (splitmix64) of (seed,
// purpose, stream, row, column, draw index). The conductance of cell (i, j) of tile `stream`
// therefore depends only on (seed, stream, i, j) and on its own target, never on the thread
// count, on the order in which tiles are programmed or on the other cells. Two arrays
// programmed with the same stream and the same targets get identical relative deviations
// (inter-array correlation 1, PAPERS.md 3.6); different streams give independent arrays. (The
// layer pipeline programs the (+) and (-) columns of a differential pair in one tile, on
// different columns: independent draws.) Partial correlations are not modelled.
//
// The model of one cell with target G_t (G_min <= G_t <= G_max expected; others are allowed and
// use the sigma of the nearer end):
//   1. Stuck-at defects: with probability stuck_lrs_rate the cell is stuck at G_max, with
//      probability stuck_hrs_rate at G_min (one uniform draw decides; the two are exclusive).
//      A stuck cell has no variation.
//   2. Otherwise the cell is drawn around G_t with relative sigma
//        s(G_t) = sigma_hrs + (sigma_lrs - sigma_hrs) (G_t - G_min) / (G_max - G_min),
//      linear in G between the HRS and LRS sigmas (PAPERS.md 3.3: separate HRS / LRS tolerance),
//        normal:    G = G_t (1 + s n),                 mean G_t, relative std s;
//        lognormal: G = G_t exp(s n - s^2 / 2),        mean G_t (mean-preserving, the median is
//                                                      G_t exp(-s^2/2)), relative std
//                                                      sqrt(exp(s^2) - 1) (~ s for small s);
//      n standard normal. A drawn conductance is clipped below at g_floor_ratio * G_min (a
//      normal draw can be negative; no device conducts less than its floor, and a zero or
//      negative conductance must never reach the circuit). There is no upper clip.
//   3. Write-verify (write_verify_tolerance > 0): the cell is verified after each programming
//      pulse and re-programmed (a fresh draw of step 2) until |G - G_t| <= tol G_t, up to
//      max_verify_pulses pulses; the last draw is kept and, when still outside the band, counted
//      in out_of_band. Stuck cells go through the same loop (their value never changes, so they
//      take one pulse if inside the band, max_verify_pulses otherwise). For a normal cell that
//      is never stuck, the pulses per cell are geometric with success probability
//      P = P(|n| <= tol / s), truncated at max_verify_pulses: mean (1 - (1 - P)^M) / P.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string_view>

#include "core/parameter.hpp"
#include "core/status.hpp"

namespace xbarnet::devices {

enum class VariationDistribution { kNone, kNormal, kLognormal };

std::string_view to_string(VariationDistribution d);  // "none", "normal", "lognormal"

struct VariationParams {
  VariationDistribution distribution = VariationDistribution::kNone;
  double sigma_lrs = 0.0;               // relative sigma of a cell programmed at G_max (LRS)
  double sigma_hrs = 0.0;               // relative sigma at G_min (HRS); linear in G between
  double write_verify_tolerance = 0.0;  // relative band |G - G_t| <= tol G_t; 0 = no verify
  int max_verify_pulses = 20;           // program-verify pulses per cell at most
  double stuck_lrs_rate = 0.0;          // probability that a cell is stuck at G_max
  double stuck_hrs_rate = 0.0;          // probability that a cell is stuck at G_min
  double read_noise = 0.0;              // relative sigma of a cell's conductance at each read
  double g_floor_ratio = 0.1;           // lower clip of a drawn conductance, in units of G_min
  std::int64_t seed = 1;                // seed of every draw (with the tile / read stream)
};

// The declared variation parameters: the [variation] table of a config.
const core::ParameterTable<VariationParams>& variation_parameters();

// Field, value and rule of the first invalid parameter, then the cross-field rules:
// stuck_lrs_rate + stuck_hrs_rate <= 1, and sigmas only with a distribution.
Status validate(const VariationParams& p);

// What programming one tile did.
struct ProgrammingStats {
  std::int64_t cells = 0;
  std::int64_t stuck_lrs = 0;      // cells stuck at G_max
  std::int64_t stuck_hrs = 0;      // cells stuck at G_min
  std::int64_t verify_pulses = 0;  // program-verify pulses (0 without write-verify)
  std::int64_t out_of_band = 0;    // cells left outside the band (only with write-verify)

  ProgrammingStats& operator+=(const ProgrammingStats& o);
};

// The programmed R x C conductances of tile `stream` from its target conductances (S), with the
// array's G_min < G_max (S). `p` must be valid (validate()); every target must be finite and
// > 0. `stats` (may be null) is added to, not reset, so one object can sum a layer's tiles.
// With distribution 'none', no defects and no write-verify, the result is `target` exactly.
Eigen::MatrixXd program_conductances(const Eigen::MatrixXd& target, double g_min, double g_max,
                                     const VariationParams& p, std::uint64_t stream,
                                     ProgrammingStats* stats);

// Read noise. With the conductance of every cell drawn independently at every read,
// G_ij (1 + s n_ijk), column j's current for input vector k is
//   I_kj = sum_i G_ij v_ki + s n_kj sqrt(sum_i (G_ij v_ki)^2),   n_kj standard normal,
// exactly in distribution on an ideal (parasitic-free) array. With parasitics, pass the rows of
// the transfer matrix (T^T, R x C) instead of G: the noise then uses the effective coupling
// T_ji in place of G_ij, a first-order approximation that ignores the wires' redistribution of
// a cell's deviation among columns.
//
// rms_kj = sqrt(sum_i (v_ki g_ij)^2): voltages K x R (V), conductances R x C (S); K x C (A).
Eigen::MatrixXd read_noise_rms(const Eigen::MatrixXd& voltages,
                               const Eigen::MatrixXd& conductances);

// currents_kj += read_noise * rms_kj * n_kj, with n_kj drawn from (seed, stream, first_input + k,
// j): a batch split into chunks gives the same draws as one call when each chunk passes the index
// of its first input vector. Use a different stream per tile and per read (e.g.
// combine_streams(tile, read)). Does nothing when read_noise = 0.
void add_read_noise(Eigen::MatrixXd& currents, const Eigen::MatrixXd& noise_rms,
                    const VariationParams& p, std::uint64_t stream, std::int64_t first_input = 0);

// A stream number from two (e.g. tile and read index), well mixed; not commutative.
std::uint64_t combine_streams(std::uint64_t a, std::uint64_t b);

}  // namespace xbarnet::devices
