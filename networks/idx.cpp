#include "networks/idx.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace xbarnet::networks {

StatusOr<IdxArray> parse_idx(std::string_view bytes) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
  if (bytes.size() < 4 || byte(0) != 0 || byte(1) != 0) {
    return Status::invalid_argument(
        "not an IDX file: it does not start with the magic number 00 00 <type> <dimensions>");
  }
  if (byte(2) != 0x08) {
    return Status::invalid_argument(fmt::format(
        "IDX type 0x{:02x}: xbarnet reads unsigned-byte IDX files (type 0x08)", byte(2)));
  }
  const std::size_t rank = byte(3);
  if (rank < 1) return Status::invalid_argument("IDX file with 0 dimensions");
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header) {
    return Status::invalid_argument(fmt::format(
        "IDX header of {} dimensions needs {} bytes, the file has {}", rank, header, bytes.size()));
  }
  IdxArray a;
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::size_t o = 4 + 4 * d;
    const std::uint64_t n = (std::uint64_t{byte(o)} << 24) | (std::uint64_t{byte(o + 1)} << 16) |
                            (std::uint64_t{byte(o + 2)} << 8) | std::uint64_t{byte(o + 3)};
    a.dims.push_back(static_cast<std::int64_t>(n));
    count *= n;
    if (count > bytes.size()) break;  // cannot fit: reported below
  }
  if (a.dims.size() != rank || count != bytes.size() - header) {
    return Status::invalid_argument(fmt::format(
        "the IDX header's dimensions describe {} values, the file holds {} after its {}-byte "
        "header (truncated, or not an IDX file)",
        a.dims.size() == rank ? fmt::format("{}", count) : std::string("more"),
        bytes.size() - header, header));
  }
  a.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

StatusOr<DataSet> make_dataset(const IdxArray& images, const IdxArray& labels, std::int64_t limit) {
  if (images.dims.size() != 3) {
    return Status::invalid_argument(fmt::format(
        "the images file has {} dimensions: images are (N, height, width)", images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    return Status::invalid_argument(
        fmt::format("the labels file has {} dimensions: labels are (N)", labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    return Status::invalid_argument(fmt::format("{} images but {} labels: one label per image",
                                                images.dims[0], labels.dims[0]));
  }
  if (limit < 0) return Status::invalid_argument(fmt::format("images = {}: at least 0", limit));
  const std::int64_t n = limit > 0 ? std::min(limit, images.dims[0]) : images.dims[0];
  if (n < 1) return Status::invalid_argument("the data set holds no image");
  const std::int64_t h = images.dims[1], w = images.dims[2];
  DataSet d;
  d.images.shape = {n, 1, h, w};
  d.images.data.resize(static_cast<size_t>(n * h * w));
  for (std::size_t i = 0; i < d.images.data.size(); ++i) {
    d.images.data[i] = static_cast<double>(images.values[i]) / 255.0;
  }
  d.labels.assign(labels.values.begin(), labels.values.begin() + n);
  return d;
}

}  // namespace xbarnet::networks
