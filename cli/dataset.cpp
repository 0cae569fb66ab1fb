#include "cli/dataset.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <memory>

#include "cli/npy.hpp"
#include "networks/idx.hpp"

namespace xbarnet::cli {

namespace fs = std::filesystem;

std::string read_maybe_gzipped(const fs::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw InputError(fmt::format("{}: not a regular file", path.string()));
  }
  // gzread reads plain files as they are and gzip'd ones decompressed.
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw InputError(fmt::format("{}: cannot open file for reading", path.string()));
  std::string out;
  char buf[1 << 16];
  while (true) {
    const int n = gzread(f.get(), buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      const char* why = gzerror(f.get(), &code);
      throw InputError(fmt::format("{}: cannot be read ({}): a damaged or truncated gzip file?",
                                   path.string(), why != nullptr ? why : "zlib error"));
    }
    if (n == 0) {
      // The end, or a gzip stream cut short (zlib reports that only here).
      int code = Z_OK;
      const char* why = gzerror(f.get(), &code);
      if (code != Z_OK && code != Z_STREAM_END) {
        throw InputError(fmt::format("{}: cannot be read ({}): a truncated gzip file?",
                                     path.string(), why != nullptr ? why : "zlib error"));
      }
      break;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw InputError(fmt::format("{}: more than {} bytes: too large for a data set file",
                                   path.string(), max_bytes));
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

namespace {

// The file of `stem` in `dir`: plain or gzip'd.
fs::path find_file(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  for (const fs::path& p : {dir / stem, dir / (stem + ".gz")}) {
    if (fs::exists(p, ec)) return p;
  }
  throw InputError(fmt::format("{}: neither {} nor {}.gz is there", dir.string(), stem, stem));
}

networks::IdxArray read_idx(const fs::path& p) {
  constexpr std::size_t kMaxBytes = std::size_t{1} << 30;  // Fashion-MNIST's largest: 47 MB
  StatusOr<networks::IdxArray> a = networks::parse_idx(read_maybe_gzipped(p, kMaxBytes));
  if (!a.is_ok()) throw InputError(fmt::format("{}: {}", p.string(), a.status().message()));
  return std::move(a).value();
}

}  // namespace

networks::DataSet load_idx_dataset(const fs::path& dir, const std::string& split,
                                   std::int64_t limit, const networks::Network& net) {
  return load_idx_dataset(dir, split, limit, &net);
}

networks::DataSet load_idx_dataset(const fs::path& dir, const std::string& split,
                                   std::int64_t limit, const networks::Network* net) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(fmt::format(
        "{}: no such folder: the data set is missing. Fashion-MNIST comes with Debian's "
        "dataset-fashion-mnist package (sudo apt-get install dataset-fashion-mnist, into "
        "/usr/share/datasets/fashion-mnist), or set [data] dir to a folder of its IDX files",
        dir.string()));
  }
  const fs::path images = find_file(dir, split + "-images-idx3-ubyte");
  const fs::path labels = find_file(dir, split + "-labels-idx1-ubyte");
  const networks::IdxArray im = read_idx(images);
  const networks::IdxArray lb = read_idx(labels);
  StatusOr<networks::DataSet> d = networks::make_dataset(im, lb, limit);
  if (!d.is_ok()) {
    throw InputError(
        fmt::format("{} with {}: {}", images.string(), labels.string(), d.status().message()));
  }
  if (Status s = net != nullptr ? networks::validate(d.value(), *net) : Status::ok(); !s.is_ok()) {
    throw InputError(fmt::format("{} with {}: {}", images.string(), labels.string(), s.message()));
  }
  return std::move(d).value();
}

}  // namespace xbarnet::cli
