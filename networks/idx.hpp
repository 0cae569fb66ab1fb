// IDX files (the format of MNIST and Fashion-MNIST): a big-endian header (two zero bytes, a type
// code, the number of dimensions, each dimension as a 32-bit size) and the values. xbarnet reads
// unsigned-byte IDX (type 0x08), the type of the images and labels of both data sets.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "networks/crossbar_network.hpp"

namespace xbarnet::networks {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> values;  // row-major
};

// Parses a whole IDX file's bytes (already decompressed). A message says what is wrong: the
// magic number, a type other than unsigned bytes, a size that does not match the dimensions.
StatusOr<IdxArray> parse_idx(std::string_view bytes);

// Images (N, H, W) and labels (N) -> a data set of N images (N, 1, H, W), pixels / 255 in [0, 1],
// at most `limit` of them (0: all). The labels are checked against the network by validate().
StatusOr<DataSet> make_dataset(const IdxArray& images, const IdxArray& labels, std::int64_t limit);

}  // namespace xbarnet::networks
