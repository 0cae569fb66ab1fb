// Data sets from IDX files (MNIST, Fashion-MNIST), gzip'd or not: the files are read here, the
// format is parsed by networks/idx.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "networks/crossbar_network.hpp"

namespace xbarnet::cli {

// The images and labels `<dir>/<split>-images-idx3-ubyte[.gz]` and
// `<dir>/<split>-labels-idx1-ubyte[.gz]` (split: "t10k" or "train"), the first `limit` of them
// (0: all), checked against the network (image shape, labels in 0 .. classes-1). Throws
// InputError naming the file and the rule; when the folder does not exist, says how to install
// Debian's dataset-fashion-mnist.
networks::DataSet load_idx_dataset(const std::filesystem::path& dir, const std::string& split,
                                   std::int64_t limit, const networks::Network& net);
// The same without a network (`net` null: no shape or label check beyond the IDX files').
networks::DataSet load_idx_dataset(const std::filesystem::path& dir, const std::string& split,
                                   std::int64_t limit, const networks::Network* net);

// The bytes of a file, gunzipped when it is gzip'd; at most `max_bytes` (InputError beyond).
std::string read_maybe_gzipped(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace xbarnet::cli
