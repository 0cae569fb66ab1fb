// Random layer tensors for the mapping tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "mapping/layer.hpp"
#include "test_util.hpp"

namespace xbarnet::testing {

// A tensor of the given shape, uniform in [lo, hi).
inline mapping::Tensor random_tensor(std::mt19937_64& rng, std::vector<std::int64_t> shape,
                                     double lo, double hi) {
  mapping::Tensor t;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.size()));
  for (double& v : t.data) v = uniform(rng, lo, hi);
  return t;
}

}  // namespace xbarnet::testing
