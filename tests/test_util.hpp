#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <random>

#include "core/random.hpp"
#include "netlists/crossbar.hpp"

namespace xbarnet::testing {

using xbarnet::core::uniform;

inline Eigen::MatrixXd random_matrix(std::mt19937_64& rng, Eigen::Index r, Eigen::Index c,
                                     double lo, double hi) {
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index j = 0; j < c; ++j)
    for (Eigen::Index i = 0; i < r; ++i) m(i, j) = uniform(rng, lo, hi);
  return m;
}

// A random tile with G in [1/100k, 1/10k] S and the given uniform parasitics.
inline netlists::Crossbar random_crossbar(std::mt19937_64& rng, Eigen::Index r, Eigen::Index c,
                                          double rs, double rw, double rb, double rn) {
  return netlists::Crossbar::uniform(random_matrix(rng, r, c, 1e-5, 1e-4), rs, rw, rb, rn);
}

// max |a - b| / max |b|
inline double rel_diff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  const double scale = b.cwiseAbs().maxCoeff();
  return (a - b).cwiseAbs().maxCoeff() / (scale > 0 ? scale : 1.0);
}

}  // namespace xbarnet::testing
