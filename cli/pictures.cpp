#include "cli/pictures.hpp"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "cli/npy.hpp"

namespace xbarnet::cli {

namespace {

// Viridis anchor colours, interpolated linearly.
std::array<unsigned char, 3> colour(double t) {
  static constexpr std::array<std::array<double, 3>, 6> kAnchors{
      {{68, 1, 84}, {65, 68, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (kAnchors.size() - 1);
  const auto i = std::min(static_cast<size_t>(t), kAnchors.size() - 2);
  const double f = t - static_cast<double>(i);
  std::array<unsigned char, 3> c{};
  for (size_t k = 0; k < 3; ++k) {
    c[k] =
        static_cast<unsigned char>(std::lround(kAnchors[i][k] * (1 - f) + kAnchors[i + 1][k] * f));
  }
  return c;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void write_heatmap_png(const std::filesystem::path& path, const Eigen::MatrixXd& values, double lo,
                       double hi) {
  const auto rows = static_cast<int>(values.rows());
  const auto cols = static_cast<int>(values.cols());
  const int cell = std::max(1, 512 / std::max({rows, cols, 1}));
  const int bar = 24, gap = 12;
  const int width = cols * cell + gap + bar;
  const int height = rows * cell;
  std::vector<unsigned char> rgb(static_cast<size_t>(width) * height * 3, 255);
  const double span = hi > lo ? hi - lo : 1.0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < cols * cell; ++x) {
      const auto c = colour((values(y / cell, x / cell) - lo) / span);
      std::copy(c.begin(), c.end(), rgb.begin() + (static_cast<size_t>(y) * width + x) * 3);
    }
    const auto c = colour(1.0 - static_cast<double>(y) / std::max(height - 1, 1));
    for (int x = cols * cell + gap; x < width; ++x) {
      std::copy(c.begin(), c.end(), rgb.begin() + (static_cast<size_t>(y) * width + x) * 3);
    }
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    throw InputError(fmt::format("{}: cannot open file for writing", path.string()));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (png == nullptr || info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    throw InputError(fmt::format("{}: writing the PNG failed", path.string()));
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, rgb.data() + static_cast<size_t>(y) * width * 3);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) {
    throw InputError(fmt::format("{}: write failed (disk full?)", path.string()));
  }
}

void write_line_plot_svg(const std::filesystem::path& path, const std::string& title,
                         const std::string& x_label, const std::string& y_label,
                         const std::vector<Series>& series) {
  constexpr double kW = 640, kH = 420, kLeft = 80, kRight = 170, kTop = 40, kBottom = 60;
  double x0 = 1e300, x1 = -1e300, y0 = 0.0, y1 = -1e300;
  for (const Series& s : series) {
    for (double x : s.x) x0 = std::min(x0, x), x1 = std::max(x1, x);
    for (double y : s.y) y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!(x1 > x0)) x0 -= 1, x1 += 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  y1 *= 1.1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' "
      "font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
      "<text x='{}' y='24' font-size='15' text-anchor='middle'>{}</text>\n",
      kW, kH, kLeft + pw / 2, xml_escape(title));
  svg += fmt::format("<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='black'/>\n", kLeft,
                     kTop + ph, kLeft + pw);
  svg += fmt::format("<line x1='{0}' y1='{1}' x2='{0}' y2='{2}' stroke='black'/>\n", kLeft, kTop,
                     kTop + ph);
  for (int i = 0; i <= 5; ++i) {
    const double y = y0 + (y1 - y0) * i / 5.0;
    svg += fmt::format(
        "<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' stroke='#ddd'/>"
        "<text x='{}' y='{:.1f}' text-anchor='end'>{:.3g}</text>\n",
        kLeft, py(y), kLeft + pw, py(y), kLeft - 6, py(y) + 4, y);
  }
  std::vector<double> ticks;
  for (const Series& s : series) ticks.insert(ticks.end(), s.x.begin(), s.x.end());
  std::sort(ticks.begin(), ticks.end());
  ticks.erase(std::unique(ticks.begin(), ticks.end()), ticks.end());
  for (double x : ticks) {
    svg += fmt::format("<text x='{:.1f}' y='{}' text-anchor='middle'>{:g}</text>\n", px(x),
                       kTop + ph + 18, x);
  }
  svg += fmt::format("<text x='{}' y='{}' text-anchor='middle'>{}</text>\n", kLeft + pw / 2,
                     kH - 16, xml_escape(x_label));
  svg += fmt::format(
      "<text x='18' y='{0}' text-anchor='middle' transform='rotate(-90 18 {0})'>{1}</text>\n",
      kTop + ph / 2, xml_escape(y_label));
  static constexpr std::array<const char*, 6> kColours{"#1f77b4", "#d62728", "#2ca02c",
                                                       "#9467bd", "#ff7f0e", "#8c564b"};
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* c = kColours[k % kColours.size()];
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i)
      points += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i]));
    svg += fmt::format("<polyline fill='none' stroke='{}' stroke-width='2' points='{}'/>\n", c,
                       points);
    for (size_t i = 0; i < s.x.size(); ++i) {
      svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='3.5' fill='{}'/>\n", px(s.x[i]),
                         py(s.y[i]), c);
    }
    const double ly = kTop + 14 + 18.0 * static_cast<double>(k);
    svg += fmt::format(
        "<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='{3}' stroke-width='2'/>"
        "<text x='{4}' y='{5}'>{6}</text>\n",
        kLeft + pw + 12, ly, kLeft + pw + 32, c, kLeft + pw + 38, ly + 4, xml_escape(s.name));
  }
  svg += "</svg>\n";
  std::ofstream out(path);
  if (!out) throw InputError(fmt::format("{}: cannot open file for writing", path.string()));
  out << svg;
  out.close();
  if (!out) throw InputError(fmt::format("{}: write failed", path.string()));
}

}  // namespace xbarnet::cli
