#include "cli/npy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>

namespace xbarnet::cli {

static_assert(std::endian::native == std::endian::little,
              "xbarnet's .npy I/O assumes little-endian");

std::int64_t NpyArray::size() const {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& why) {
  throw InputError(fmt::format("{}: {}", path.string(), why));
}

// Finds `'key': <value>` in the header dictionary and returns the raw value text: a tuple
// "(...)", a quoted string with its quotes, or a word (True, False).
std::string dict_value(const std::filesystem::path& path, const std::string& header,
                       const std::string& key) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = std::string(1, quote) + key + quote;
    for (size_t at = header.find(quoted); at != std::string::npos;
         at = header.find(quoted, at + 1)) {
      size_t p = at + quoted.size();
      while (p < header.size() && std::isspace(static_cast<unsigned char>(header[p]))) ++p;
      if (p >= header.size() || header[p] != ':') continue;
      ++p;
      while (p < header.size() && std::isspace(static_cast<unsigned char>(header[p]))) ++p;
      if (p >= header.size()) break;
      const char first = header[p];
      size_t end = std::string::npos;
      if (first == '(') {
        end = header.find(')', p);
        if (end != std::string::npos) ++end;
      } else if (first == '\'' || first == '"') {
        end = header.find(first, p + 1);
        if (end != std::string::npos) ++end;
      } else {
        end = p;
        while (end < header.size() &&
               (std::isalnum(static_cast<unsigned char>(header[end])) || header[end] == '_')) {
          ++end;
        }
        if (end == p) end = std::string::npos;
      }
      if (end != std::string::npos) return header.substr(p, end - p);
    }
  }
  fail(path, fmt::format("not a valid .npy file: header has no '{}' entry", key));
}

}  // namespace

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file for reading");
  return parse_npy(in, path);
}

NpyArray parse_npy(std::istream& in, const std::filesystem::path& path) {
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    fail(path, "not a NumPy .npy file (it does not start with the \\x93NUMPY magic string)");
  }
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = static_cast<std::uint32_t>(b[0] | (b[1] << 8));
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = static_cast<std::uint32_t>(b[0] | (b[1] << 8) | (b[2] << 16)) |
                 (static_cast<std::uint32_t>(b[3]) << 24);
  } else {
    fail(path, fmt::format(".npy format version {} is not supported (1, 2 or 3)", major));
  }
  if (!in || header_len > (1u << 20)) fail(path, "not a valid .npy file: truncated header");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) fail(path, "not a valid .npy file: truncated header");

  std::string descr = dict_value(path, header, "descr");
  descr = descr.substr(1, descr.size() - 2);
  size_t item = 0;
  if (descr == "<f8") {
    item = 8;
  } else if (descr == "<f4") {
    item = 4;
  } else {
    fail(path, fmt::format("dtype '{}' is not supported: xbarnet reads float64 ('<f8') and "
                           "float32 ('<f4'); convert with numpy.asarray(a, dtype=numpy.float64)",
                           descr));
  }
  const std::string order = dict_value(path, header, "fortran_order");
  if (order != "True" && order != "False") {
    fail(path, fmt::format("not a valid .npy file: fortran_order is '{}'", order));
  }
  const bool fortran = order == "True";

  NpyArray a;
  const std::string shape_text = dict_value(path, header, "shape");
  if (shape_text.empty() || shape_text.front() != '(' || shape_text.back() != ')') {
    fail(path, fmt::format("not a valid .npy file: shape '{}' is not a tuple", shape_text));
  }
  // Entries are checked as 64-bit integers, and the size they claim against the bytes the file
  // actually holds, before anything is allocated (a short file claiming a huge shape is refused
  // without allocating it).
  std::int64_t count = 1;
  for (size_t at = 1; at + 1 < shape_text.size();) {
    while (at + 1 < shape_text.size() && (shape_text[at] == ' ' || shape_text[at] == ',')) ++at;
    if (at + 1 >= shape_text.size()) break;
    std::int64_t n = 0;
    const char* first = shape_text.data() + at;
    const char* last = shape_text.data() + shape_text.size() - 1;
    const auto [ptr, ec] = std::from_chars(first, last, n);
    if (ec != std::errc() || n < 0) {
      fail(path, fmt::format("not a valid .npy file: shape {} holds '{}', which is not a "
                             "dimension (an integer from 0 to 2^63-1)",
                             shape_text, std::string(first, std::min(last, first + 24))));
    }
    at += static_cast<size_t>(ptr - first);
    if (a.shape.size() == 32) fail(path, "not a valid .npy file: more than 32 dimensions");
    a.shape.push_back(n);
    if (n != 0 &&
        count > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(item) / n) {
      fail(path, fmt::format("shape {} describes more values than any file can hold", shape_text));
    }
    count *= n;
  }
  const std::streampos data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::int64_t available = static_cast<std::int64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  const std::int64_t needed = count * static_cast<std::int64_t>(item);
  if (needed > available) {
    fail(path, fmt::format("truncated data: shape ({}) needs {} bytes, the file holds {}",
                           fmt::join(a.shape, ", "), needed, available));
  }
  std::vector<char> raw(static_cast<size_t>(count) * item);
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  if (!in) {
    fail(path, fmt::format("truncated data: shape ({}) needs {} bytes", fmt::join(a.shape, ", "),
                           raw.size()));
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    fail(path, "not a valid .npy file: extra bytes after the data");
  }
  std::vector<double> values(static_cast<size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    if (item == 8) {
      std::memcpy(&values[k], raw.data() + k * 8, 8);
    } else {
      float f;
      std::memcpy(&f, raw.data() + k * 4, 4);
      values[k] = f;
    }
  }
  if (fortran && a.shape.size() > 1) {
    // Reorder from column-major (first index fastest) to row-major (last index fastest).
    a.data.resize(values.size());
    const size_t nd = a.shape.size();
    std::vector<std::int64_t> idx(nd, 0);
    for (std::int64_t f = 0; f < count; ++f) {
      std::int64_t c_off = 0;
      for (size_t d = 0; d < nd; ++d) c_off = c_off * a.shape[d] + idx[d];
      a.data[c_off] = values[f];
      for (size_t d = 0; d < nd; ++d) {
        if (++idx[d] < a.shape[d]) break;
        idx[d] = 0;
      }
    }
  } else {
    a.data = std::move(values);
  }
  return a;
}

void write_npy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
               const double* data) {
  // NumPy's tuple syntax: "()", "(3,)", "(3, 4)".
  const std::string shape_text =
      fmt::format("({}{})", fmt::join(shape, ", "), shape.size() == 1 ? "," : "");
  std::string header =
      fmt::format("{{'descr': '<f8', 'fortran_order': False, 'shape': {}, }}", shape_text);
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(fmt::format("{}: cannot open file for writing", path.string()));
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  const std::int64_t count =
      std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * 8));
  out.close();  // a full disk shows at the flush
  if (!out) {
    throw InputError(
        fmt::format("{}: write failed (disk full, or a size limit reached)", path.string()));
  }
}

Eigen::MatrixXd npy_matrix(const NpyArray& a, const std::string& path, const std::string& what) {
  if (a.shape.size() != 2) {
    throw InputError(fmt::format("{}: {} must be a 2-d array, got shape ({})", path, what,
                                 fmt::join(a.shape, ", ")));
  }
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(a.data.data(), a.shape[0], a.shape[1]);
}

Eigen::VectorXd npy_vector(const NpyArray& a, const std::string& path, const std::string& what,
                           Eigen::Index n) {
  if (a.size() == 1 && a.shape.size() <= 1) return Eigen::VectorXd::Constant(n, a.data[0]);
  if (a.shape.size() != 1 || a.shape[0] != n) {
    throw InputError(fmt::format("{}: {} must have shape ({},) or hold one value, got shape ({})",
                                 path, what, n, fmt::join(a.shape, ", ")));
  }
  return Eigen::Map<const Eigen::VectorXd>(a.data.data(), n);
}

void write_npy_matrix(const std::filesystem::path& path, const Eigen::MatrixXd& m) {
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  write_npy(path, {m.rows(), m.cols()}, rm.data());
}

void write_npy_vector(const std::filesystem::path& path, const Eigen::VectorXd& v) {
  write_npy(path, {v.size()}, v.data());
}

}  // namespace xbarnet::cli
