#include "cli/pictures.hpp"

// PLplot's C++ binding (plstream) and C API (exit/abort handlers, the device list).
#include <plstream.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>

#include "cli/npy.hpp"

namespace xbarnet::cli {

namespace {

// ---------------------------------------------------------------------------------------------
// Running PLplot safely. PLplot keeps global state (the current stream, the exit and abort
// handlers), so every figure is drawn under one mutex, on a fresh stream. By default a fatal
// PLplot error (plexit) prints and calls exit(); our exit handler throws instead, so the process
// never dies (plexit calls exit() whenever the handler returns). A recoverable error (plabort)
// makes PLplot skip the call and return: the abort handler records the message and the figure
// fails with it. PLplot never touches the file system: it writes into memory through a FILE*
// (fopencookie), and we write the bytes to the path with every error checked.

std::mutex& plplot_mutex() {
  static std::mutex m;
  return m;
}

struct PlplotFatal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string& abort_message() {  // guarded by plplot_mutex()
  static std::string message;
  return message;
}

int on_plplot_exit(const char* message) {
  // Throwing while already unwinding would terminate; plexit then exits (PLplot's default).
  if (std::uncaught_exceptions() > 0) return 1;
  throw PlplotFatal(message != nullptr ? message : "fatal error");
}

void on_plplot_abort(const char* message) {
  if (abort_message().empty()) abort_message() = message != nullptr ? message : "error";
}

const char* device_name(PictureFormat format) {
  switch (format) {
    case PictureFormat::kPng:
      return "pngcairo";
    case PictureFormat::kSvg:
      return "svgcairo";
    case PictureFormat::kPdf:
      return "pdfcairo";
  }
  return "pngcairo";
}

// An unknown device makes plinit prompt on stdin for another one: check first.
void require_device(const char* device, const std::filesystem::path& path) {
  std::array<const char*, 128> menus{}, names{};
  int n = static_cast<int>(names.size());
  const char** menu_list = menus.data();
  const char** name_list = names.data();
  plgDevs(&menu_list, &name_list, &n);
  for (int i = 0; i < n; ++i) {
    if (std::string_view(names[static_cast<size_t>(i)]) == device) return;
  }
  throw InputError(fmt::format(
      "{}: PLplot has no '{}' device: the cairo driver is not installed (Debian package "
      "plplot-driver-cairo)",
      path.string(), device));
}

// A write-only FILE* that appends to a string; `closed` tells whether PLplot closed it.
struct MemoryFile {
  std::string bytes;
  bool closed = false;
};

ssize_t memory_write(void* cookie, const char* data, size_t size) {
  static_cast<MemoryFile*>(cookie)->bytes.append(data, size);
  return static_cast<ssize_t>(size);
}

int memory_close(void* cookie) {
  static_cast<MemoryFile*>(cookie)->closed = true;
  return 0;
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(fmt::format("{}: cannot open file for writing", path.string()));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw InputError(fmt::format("{}: write failed (disk full?)", path.string()));
}

// Draws one figure on a fresh stream of `width` x `height` (pixels for PNG, points for SVG and
// PDF) and writes it to `path`. `draw` must only call PLplot.
template <typename Draw>
void render(const std::filesystem::path& path, PictureFormat format, PLINT width, PLINT height,
            Draw&& draw) {
  const std::lock_guard<std::mutex> lock(plplot_mutex());
  const char* device = device_name(format);
  plsexit(on_plplot_exit);
  plsabort(on_plplot_abort);
  abort_message().clear();
  require_device(device, path);

  MemoryFile memory;
  FILE* file = fopencookie(&memory, "w", {nullptr, memory_write, nullptr, memory_close});
  if (file == nullptr) throw InputError(fmt::format("{}: cannot make the picture", path.string()));
  auto stream = std::make_unique<plstream>();
  try {
    stream->sdev(device);
    stream->sfile(file);
    stream->spage(0, 0, width, height, 0, 0);
    stream->scolbg(255, 255, 255);
    stream->init();
    draw(*stream);
    // Ends the page: the driver encodes the picture into `file` and closes it. Called here, not
    // by ~plstream (which calls it again, harmlessly), so that a fatal error can be caught.
    plend1();
    stream.reset();
  } catch (const PlplotFatal& e) {
    // The stream is in an unknown state: leak it rather than end it (which may fail again).
    (void)stream.release();
    if (!memory.closed) std::fclose(file);
    throw InputError(fmt::format("{}: the plotting library failed: {}", path.string(), e.what()));
  }
  if (!memory.closed) std::fclose(file);
  if (!abort_message().empty()) {
    throw InputError(
        fmt::format("{}: the plotting library failed: {}", path.string(), abort_message()));
  }
  if (memory.bytes.empty()) {
    throw InputError(fmt::format("{}: the plotting library wrote nothing", path.string()));
  }
  write_bytes(path, memory.bytes);
}

// cmap0 of every figure: 0 background, 1 axes and text, 2 grid, 3.. the series.
constexpr int kAxes = 1, kGrid = 2, kFirstSeries = 3;
constexpr std::array<std::array<int, 3>, 9> kCmap0{{{255, 255, 255},
                                                    {0, 0, 0},
                                                    {220, 220, 220},
                                                    {31, 119, 180},
                                                    {214, 39, 40},
                                                    {44, 160, 44},
                                                    {148, 103, 189},
                                                    {255, 127, 14},
                                                    {140, 86, 75}}};
constexpr int kSeriesColours = static_cast<int>(kCmap0.size()) - kFirstSeries;
// Different markers too, so the series stay apart in grey and for colour-blind readers.
constexpr std::array<const char*, 6> kMarkers{"●", "■", "▲", "◆", "▼", "✚"};

void set_cmap0(plstream& pls) {
  std::array<PLINT, kCmap0.size()> r{}, g{}, b{};
  for (size_t i = 0; i < kCmap0.size(); ++i) {
    r[i] = kCmap0[i][0], g[i] = kCmap0[i][1], b[i] = kCmap0[i][2];
  }
  pls.scmap0(r.data(), g.data(), b.data(), static_cast<PLINT>(kCmap0.size()));
}

// Viridis through its anchor colours, as 256 entries of cmap1.
void set_viridis(plstream& pls) {
  static constexpr std::array<std::array<double, 3>, 6> kAnchors{
      {{68, 1, 84}, {65, 68, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}}};
  constexpr int kN = 256;
  std::array<PLINT, kN> r{}, g{}, b{};
  for (int n = 0; n < kN; ++n) {
    const double t = static_cast<double>(n) / (kN - 1) * (kAnchors.size() - 1);
    const auto i = std::min(static_cast<size_t>(t), kAnchors.size() - 2);
    const double f = t - static_cast<double>(i);
    const auto mix = [&](size_t k) {
      return static_cast<PLINT>(std::lround(kAnchors[i][k] * (1 - f) + kAnchors[i + 1][k] * f));
    };
    r[static_cast<size_t>(n)] = mix(0), g[static_cast<size_t>(n)] = mix(1),
    b[static_cast<size_t>(n)] = mix(2);
  }
  pls.scmap1(r.data(), g.data(), b.data(), kN);
}

// A range around [lo, hi] that is never empty: all-equal values get one around the value.
std::pair<double, double> padded(double lo, double hi, double fraction, double equal_pad) {
  if (!(hi > lo)) {
    const double pad = lo != 0.0 ? std::abs(lo) * equal_pad : 1.0;
    return {lo - pad, hi + pad};
  }
  const double pad = (hi - lo) * fraction;
  return {lo - pad, hi + pad};
}

// plimagefr's transform: the corners (i, j) of cell data[i][j] sit half a unit around the
// centre (i, j), so integer ticks label the cells' centres.
void cell_corner(PLFLT i, PLFLT j, PLFLT* x, PLFLT* y, PLPointer /*data*/) {
  *x = i - 0.5;
  *y = j - 0.5;
}

// A step of 1, 2 or 5 times a power of ten that gives at most 8 ticks over n indices.
PLFLT index_step(PLINT n) {
  for (PLFLT decade = 1;; decade *= 10) {
    for (PLFLT m : {1.0, 2.0, 5.0}) {
      if (static_cast<PLFLT>(n) / (m * decade) <= 8) return m * decade;
    }
  }
}

}  // namespace

PictureFormat picture_format(const std::filesystem::path& name) {
  std::string ext = name.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".png") return PictureFormat::kPng;
  if (ext == ".svg") return PictureFormat::kSvg;
  if (ext == ".pdf") return PictureFormat::kPdf;
  throw InputError(fmt::format(
      "{}: unknown picture format '{}': a picture's file name must end in .png, .svg or .pdf",
      name.string(), name.extension().string()));
}

void write_heatmap(const std::filesystem::path& path, const Eigen::MatrixXd& values, double lo,
                   double hi, const HeatmapLabels& labels) {
  write_heatmap(path, picture_format(path), values, lo, hi, labels);
}

void write_heatmap(const std::filesystem::path& path, PictureFormat format,
                   const Eigen::MatrixXd& values, double lo, double hi,
                   const HeatmapLabels& labels) {
  const auto rows = static_cast<PLINT>(values.rows());
  const auto cols = static_cast<PLINT>(values.cols());
  if (rows == 0 || cols == 0) {
    throw InputError(fmt::format("{}: a heatmap needs at least one value ({} x {} given)",
                                 path.string(), rows, cols));
  }
  // The colour scale: [lo, hi] when it is a range, else one around the values.
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double v : values.reshaped()) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!(lo <= hi)) lo = 0.0, hi = 1.0;
  }
  if (!(hi > lo)) std::tie(lo, hi) = std::pair{lo, lo + (lo != 0.0 ? std::abs(lo) * 0.1 : 1.0)};
  // z[x][y] with x = column j and y = row i; values outside [lo, hi] clamped; NaN below the
  // plotted range, so that it is not drawn.
  const double nan_value = lo - (hi - lo);
  std::vector<std::vector<PLFLT>> z(static_cast<size_t>(cols),
                                    std::vector<PLFLT>(static_cast<size_t>(rows)));
  std::vector<const PLFLT*> z_rows(static_cast<size_t>(cols));
  for (PLINT j = 0; j < cols; ++j) {
    for (PLINT i = 0; i < rows; ++i) {
      const double v = values(i, j);
      z[static_cast<size_t>(j)][static_cast<size_t>(i)] =
          std::isnan(v) ? nan_value : std::clamp(v, lo, hi);
    }
    z_rows[static_cast<size_t>(j)] = z[static_cast<size_t>(j)].data();
  }
  constexpr int kBar = 256;
  std::array<PLFLT, kBar> bar{};
  for (int k = 0; k < kBar; ++k) bar[static_cast<size_t>(k)] = lo + (hi - lo) * k / (kBar - 1);

  render(path, format, 800, 640, [&](plstream& pls) {
    set_cmap0(pls);
    set_viridis(pls);
    pls.adv(0);
    pls.schr(0, 0.9);
    // Square cells; the y axis runs downwards, so row 0 is at the top.
    pls.vpas(0.10, 0.78, 0.11, 0.90, static_cast<PLFLT>(rows) / static_cast<PLFLT>(cols));
    const PLFLT x0 = -0.5, x1 = cols - 0.5, y0 = -0.5, y1 = rows - 0.5;
    pls.wind(x0, x1, y1, y0);
    pls.imagefr(z_rows.data(), cols, rows, x0, x1, y0, y1, lo, hi, lo, hi, cell_corner, nullptr);
    pls.col0(kAxes);
    // Integer ticks (row and column indices), no minor ticks between them.
    pls.box("bcnt", index_step(cols), 0, "bcntv", index_step(rows), 0);
    pls.lab(labels.x_label.c_str(), labels.y_label.c_str(), labels.title.c_str());

    PLFLT bar_width = 0, bar_height = 0;
    std::array<PLINT, 1> label_opts{PL_COLORBAR_LABEL_RIGHT};
    std::array<const char*, 1> bar_labels{labels.bar_label.c_str()};
    std::array<const char*, 1> axis_opts{"bcvtm"};
    std::array<PLFLT, 1> ticks{0.0};
    std::array<PLINT, 1> sub_ticks{0};
    std::array<PLINT, 1> n_values{kBar};
    std::array<const PLFLT*, 1> bar_values{bar.data()};
    pls.colorbar(&bar_width, &bar_height, PL_COLORBAR_IMAGE | PL_COLORBAR_LABEL_RIGHT,
                 PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.03, 0.0, 0.04,
                 1.0, 0, kAxes, 1, 0.0, 0.0, 0, 0.0, 1, label_opts.data(), bar_labels.data(), 1,
                 axis_opts.data(), ticks.data(), sub_ticks.data(), n_values.data(),
                 bar_values.data());
  });
}

void write_line_plot(const std::filesystem::path& path, const std::string& title,
                     const std::string& x_label, const std::string& y_label,
                     const std::vector<Series>& series, bool log_x, bool log_y) {
  write_line_plot(path, picture_format(path), title, x_label, y_label, series, log_x, log_y);
}

void write_line_plot(const std::filesystem::path& path, PictureFormat format,
                     const std::string& title, const std::string& x_label,
                     const std::string& y_label, const std::vector<Series>& series, bool log_x,
                     bool log_y) {
  // The points that can be drawn, in axis coordinates (log10 on a logarithmic axis); NaN marks
  // a skipped point, which breaks the line.
  const auto axis = [](double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0.0)) return std::numeric_limits<double>::quiet_NaN();
    return log ? std::log10(v) : v;
  };
  std::vector<std::vector<PLFLT>> xs(series.size()), ys(series.size());
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    if (s.x.size() != s.y.size()) {
      throw InputError(fmt::format("{}: series '{}' has {} x and {} y values: they must match",
                                   path.string(), s.name, s.x.size(), s.y.size()));
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      double x = axis(s.x[i], log_x), y = axis(s.y[i], log_y);
      if (std::isnan(x) || std::isnan(y)) {
        x = y = std::numeric_limits<double>::quiet_NaN();
      } else {
        x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
        y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
      }
      xs[k].push_back(x);
      ys[k].push_back(y);
    }
  }
  const bool empty = !(x_lo <= x_hi);
  if (empty) x_lo = x_hi = y_lo = y_hi = 0.0;
  // Log axes pad in decades; an all-equal axis gets +-10 % (or +-1 around 0, +-1/2 decade).
  // (Plain variables, not structured bindings: clang 14 cannot capture those in a lambda.)
  const auto wx = log_x ? padded(x_lo, x_hi, 0.04, 0.0) : padded(x_lo, x_hi, 0.04, 0.1);
  const auto wy = log_y ? padded(y_lo, y_hi, 0.06, 0.0) : padded(y_lo, y_hi, 0.06, 0.1);
  const double wx0 = wx.first, wx1 = wx.second, wy0 = wy.first, wy1 = wy.second;

  render(path, format, 880, 560, [&](plstream& pls) {
    set_cmap0(pls);
    pls.adv(0);
    pls.schr(0, 0.9);
    pls.vpor(0.10, 0.70, 0.12, 0.90);
    pls.wind(wx0 == wx1 ? wx0 - 0.5 : wx0, wx0 == wx1 ? wx1 + 0.5 : wx1,
             wy0 == wy1 ? wy0 - 0.5 : wy0, wy0 == wy1 ? wy1 + 0.5 : wy1);
    const std::string xopt = std::string("bcnst") + (log_x ? "l" : "");
    const std::string yopt = std::string("bcnstv") + (log_y ? "l" : "");
    pls.col0(kGrid);
    pls.box((std::string("g") + (log_x ? "l" : "")).c_str(), 0, 0,
            (std::string("g") + (log_y ? "l" : "")).c_str(), 0, 0);
    pls.col0(kAxes);
    pls.box(xopt.c_str(), 0, 0, yopt.c_str(), 0, 0);
    pls.lab(x_label.c_str(), y_label.c_str(), title.c_str());
    if (empty) pls.mtex("t", -2.0, 0.5, 0.5, "no finite points to draw");

    const auto n = static_cast<PLINT>(series.size());
    std::vector<PLINT> opts(series.size(), PL_LEGEND_LINE | PL_LEGEND_SYMBOL);
    std::vector<PLINT> colours(series.size()), styles(series.size(), 1),
        symbol_numbers(series.size(), 1), text_colours(series.size(), kAxes);
    std::vector<PLFLT> widths(series.size(), 2.0), symbol_scales(series.size(), 1.0);
    std::vector<const char*> names(series.size()), symbols(series.size());
    for (size_t k = 0; k < series.size(); ++k) {
      colours[k] = kFirstSeries + static_cast<PLINT>(k) % kSeriesColours;
      names[k] = series[k].name.c_str();
      symbols[k] = kMarkers[k % kMarkers.size()];
      pls.col0(colours[k]);
      pls.width(2.0);
      // Each run of drawable points as one line, every drawable point as a marker.
      const std::vector<PLFLT>& x = xs[k];
      const std::vector<PLFLT>& y = ys[k];
      for (size_t i = 0; i < x.size();) {
        if (std::isnan(x[i])) {
          ++i;
          continue;
        }
        size_t end = i;
        while (end < x.size() && !std::isnan(x[end])) ++end;
        const auto run = static_cast<PLINT>(end - i);
        if (run > 1) pls.line(run, x.data() + i, y.data() + i);
        pls.string(run, x.data() + i, y.data() + i, symbols[k]);
        i = end;
      }
    }
    pls.width(1.0);
    if (n > 0) {
      PLFLT legend_width = 0, legend_height = 0;
      pls.legend(&legend_width, &legend_height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.03, 0.0, 0.08, 0,
                 kAxes, 1, 0, 0, n, opts.data(), 1.0, 0.8, 2.0, 0.0, text_colours.data(),
                 names.data(), nullptr, nullptr, nullptr, nullptr, colours.data(), styles.data(),
                 widths.data(), colours.data(), symbol_scales.data(), symbol_numbers.data(),
                 symbols.data());
    }
  });
}

}  // namespace xbarnet::cli
