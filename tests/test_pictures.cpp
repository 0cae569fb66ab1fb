// The pictures (cli/pictures.hpp): PNG, SVG and PDF through PLplot. PNGs are decoded with libpng
// and checked by their pixels (orientation, colours, that titles and labels are drawn); cairo's
// SVG draws text as glyph outlines, so an SVG's text is checked by counting the glyphs it
// uses, not by searching for the words.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <png.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/npy.hpp"
#include "cli/pictures.hpp"
#include "temp_dir.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;
using cli::HeatmapLabels;
using cli::InputError;
using cli::Series;

fs::path temp_dir(const std::string& name) {
  return testing::fresh_scratch_dir(fmt::format("pictures-{}", name));
}

using testing::slurp;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Rgb {
  int r, g, b;
  bool operator==(const Rgb&) const = default;
};

// A PNG decoded by libpng as 8-bit RGB; nullopt when libpng cannot read it.
struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
  Rgb at(int x, int y) const {
    const size_t k =
        (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
    return {rgb[k], rgb[k + 1], rgb[k + 2]};
  }
};

std::optional<Image> read_png(const fs::path& p) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, p.c_str()) == 0) return std::nullopt;
  image.format = PNG_FORMAT_RGB;
  Image out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr) == 0) {
    png_image_free(&image);
    return std::nullopt;
  }
  return out;
}

struct Box {
  int x0 = std::numeric_limits<int>::max(), y0 = x0, x1 = -1, y1 = -1;
  long n = 0;
  void add(int x, int y) {
    x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    ++n;
  }
};

// The pixels of exactly colour `c` in the columns [x_from, x_to).
Box find(const Image& im, Rgb c, int x_from = 0, int x_to = -1) {
  Box b;
  for (int y = 0; y < im.height; ++y) {
    for (int x = x_from; x < (x_to < 0 ? im.width : x_to); ++x) {
      if (im.at(x, y) == c) b.add(x, y);
    }
  }
  return b;
}

// Pixels within 12 of colour `c` in every channel, in the columns from x_from.
long near(const Image& im, Rgb c, int x_from) {
  long n = 0;
  for (int y = 0; y < im.height; ++y) {
    for (int x = x_from; x < im.width; ++x) {
      const Rgb p = im.at(x, y);
      if (std::abs(p.r - c.r) < 12 && std::abs(p.g - c.g) < 12 && std::abs(p.b - c.b) < 12) ++n;
    }
  }
  return n;
}

// Dark grey-to-black pixels (text and axes) in a rectangle.
long dark(const Image& im, int x0, int y0, int x1, int y1) {
  long n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const Rgb c = im.at(x, y);
      if (c.r < 100 && c.g < 100 && c.b < 100 && std::abs(c.r - c.b) < 20) ++n;
    }
  }
  return n;
}

constexpr Rgb kViridisLow{68, 1, 84}, kViridisHigh{253, 231, 37};
const HeatmapLabels kLabels{"IR drop of tile 3", "column j", "row i", "IR drop [V]"};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// Row 0 at the top, column 0 at the left: only cell (0, 0) is at the top of the scale, so the
// yellow square must sit at the top-left corner of the dark (low) area, and be one cell large.
TEST(Pictures, HeatmapPngPutsRowZeroAtTheTopAndColumnZeroAtTheLeft) {
  const fs::path dir = temp_dir("orientation");
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(4, 4);
  v(0, 0) = 0.2;
  cli::write_heatmap(dir / "h.png", v, 0.0, 0.2, kLabels);
  EXPECT_EQ(slurp(dir / "h.png").substr(0, 8), "\x89PNG\r\n\x1a\n");
  const std::optional<Image> im = read_png(dir / "h.png");
  ASSERT_TRUE(im.has_value()) << "libpng cannot read it";
  EXPECT_EQ(im->width, 800);
  EXPECT_EQ(im->height, 640);
  // The heatmap lies left of 70 % of the width; the colour bar is right of it.
  const int limit = im->width * 7 / 10;
  const Box low = find(*im, kViridisLow, 0, limit), high = find(*im, kViridisHigh, 0, limit);
  ASSERT_GT(low.n, 1000);
  ASSERT_GT(high.n, 100);
  const int cell = (low.y1 - low.y0 + 1) / 4;
  EXPECT_NEAR(high.y0, low.y0, 2);
  EXPECT_NEAR(high.x0, low.x0, 2);
  EXPECT_NEAR(high.y1 - high.y0 + 1, cell, 3);
  EXPECT_NEAR(high.x1 - high.x0 + 1, cell, 3);
  // Square cells: the 4 x 4 map is as wide as it is high.
  EXPECT_NEAR(high.x1 - high.x0, high.y1 - high.y0, 2);
}

// The colour bar (right of the map) runs through the scale; the title, the axis labels and the
// colour bar's label are drawn (dark pixels where they go, none there without them).
TEST(Pictures, HeatmapHasColourBarTitleAndAxisLabels) {
  const fs::path dir = temp_dir("labels");
  Eigen::MatrixXd v(8, 8);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) v(i, j) = 0.01 * (i + j);
  }
  cli::write_heatmap(dir / "with.png", v, 0.0, v.maxCoeff(), kLabels);
  cli::write_heatmap(dir / "without.png", v, 0.0, v.maxCoeff(), HeatmapLabels{"", "", "", ""});
  const std::optional<Image> with = read_png(dir / "with.png");
  const std::optional<Image> without = read_png(dir / "without.png");
  ASSERT_TRUE(with && without);
  const int w = with->width, h = with->height;
  // The colour bar: both ends of the scale right of the map.
  EXPECT_GT(near(*with, kViridisHigh, w * 3 / 4), 100);
  EXPECT_GT(near(*with, kViridisLow, w * 3 / 4), 100);
  // Title (top band), x label (bottom band), y label (left band), bar label (right band).
  const auto bands = [&](const Image& im) {
    return std::array<long, 4>{dark(im, 0, 0, w, h / 12), dark(im, 0, h * 945 / 1000, w, h),
                               dark(im, 0, 0, w / 16, h), dark(im, w * 865 / 1000, 0, w, h)};
  };
  const auto a = bands(*with), b = bands(*without);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_GT(a[k], 30) << "band " << k;
    EXPECT_EQ(b[k], 0) << "band " << k;
  }
}

TEST(Pictures, HeatmapWritesSvgAndPdf) {
  const fs::path dir = temp_dir("formats");
  const Eigen::MatrixXd v = Eigen::MatrixXd::Random(16, 16).cwiseAbs();
  cli::write_heatmap(dir / "h.svg", v, 0.0, 1.0, kLabels);
  cli::write_heatmap(dir / "untitled.svg", v, 0.0, 1.0, {"", "column j", "row i", "IR drop [V]"});
  cli::write_heatmap(dir / "h.PDF", v, 0.0, 1.0, kLabels);
  const std::string svg = slurp(dir / "h.svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("width=\"800pt\" height=\"640pt\""), std::string::npos) << svg.substr(0, 400);
  // The title is drawn: one glyph use per character ("IR drop of tile 3": 17, spaces too).
  const size_t glyphs = count(svg, "xlink:href=\"#glyph");
  const size_t untitled = count(slurp(dir / "untitled.svg"), "xlink:href=\"#glyph");
  EXPECT_EQ(glyphs - untitled, 17u) << glyphs << " vs " << untitled;
  const std::string pdf = slurp(dir / "h.PDF");
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF", pdf.size() - 16), std::string::npos);
}

TEST(Pictures, NaNCellsAreLeftWhiteAndValuesOutsideTheScaleClamped) {
  const fs::path dir = temp_dir("nan");
  Eigen::MatrixXd v = Eigen::MatrixXd::Constant(2, 2, 5.0);  // above the scale: the top colour
  v(1, 1) = std::numeric_limits<double>::quiet_NaN();
  v(1, 0) = -3.0;  // below: the bottom colour
  cli::write_heatmap(dir / "h.png", v, 0.0, 1.0, kLabels);
  const std::optional<Image> im = read_png(dir / "h.png");
  ASSERT_TRUE(im.has_value());
  const int limit = im->width * 76 / 100;  // the whole map, not the colour bar
  const Box high = find(*im, kViridisHigh, 0, limit), low = find(*im, kViridisLow, 0, limit);
  ASSERT_GT(high.n, 1000);
  ASSERT_GT(low.n, 1000);
  // Two yellow cells on top, one dark cell bottom-left, the NaN cell bottom-right white.
  EXPECT_NEAR(static_cast<double>(high.n) / static_cast<double>(low.n), 2.0, 0.1);
  EXPECT_GT(low.y0, high.y0);
  EXPECT_EQ(im->at((high.x0 + 3 * high.x1) / 4, (3 * low.y0 + low.y1) / 4), (Rgb{255, 255, 255}));
}

TEST(Pictures, AllEqualValuesAndAnEmptyScaleStillDraw) {
  const fs::path dir = temp_dir("equal");
  cli::write_heatmap(dir / "zero.png", Eigen::MatrixXd::Zero(3, 5), 0.0, 0.0, kLabels);
  const std::optional<Image> im = read_png(dir / "zero.png");
  ASSERT_TRUE(im.has_value());
  // All cells at the bottom of the scale; the 3 x 5 map is wider than high.
  const Box low = find(*im, kViridisLow, 0, im->width * 7 / 10);
  EXPECT_GT(low.n, 1000);
  EXPECT_GT(low.x1 - low.x0, low.y1 - low.y0);
  EXPECT_NE(
      error_of([&] { cli::write_heatmap(dir / "e.png", Eigen::MatrixXd(0, 3), 0, 1, kLabels); }),
      "no error");
}

TEST(Pictures, ABadExtensionNamesTheFileAndTheRule) {
  const fs::path dir = temp_dir("extension");
  const Eigen::MatrixXd v = Eigen::MatrixXd::Ones(2, 2);
  for (const char* name : {"map.bmp", "map", "map.png.tmp"}) {
    const std::string e = error_of([&] { cli::write_heatmap(dir / name, v, 0, 1, kLabels); });
    EXPECT_NE(e.find((dir / name).string()), std::string::npos) << e;
    EXPECT_NE(e.find("must end in .png, .svg or .pdf"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(dir / name));
    const std::string e2 = error_of([&] { cli::write_line_plot(dir / name, "t", "x", "y", {}); });
    EXPECT_NE(e2.find("must end in .png, .svg or .pdf"), std::string::npos) << e2;
  }
  EXPECT_EQ(cli::picture_format("a/b.Svg"), cli::PictureFormat::kSvg);
  EXPECT_EQ(cli::picture_format("b.pdf"), cli::PictureFormat::kPdf);
}

TEST(Pictures, AnUnwritablePathNamesTheFile) {
  const fs::path dir = temp_dir("unwritable");
  const Eigen::MatrixXd v = Eigen::MatrixXd::Ones(2, 2);
  const fs::path missing = dir / "no-such-directory" / "map.png";
  std::string e = error_of([&] { cli::write_heatmap(missing, v, 0, 1, kLabels); });
  EXPECT_NE(e.find(missing.string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot open file for writing"), std::string::npos) << e;
  // A directory where the file should be (root may write anywhere, so not a permission test).
  fs::create_directories(dir / "taken.svg");
  e = error_of([&] { cli::write_line_plot(dir / "taken.svg", "t", "x", "y", {}); });
  EXPECT_NE(e.find((dir / "taken.svg").string()), std::string::npos) << e;
  // /dev/full takes the open and refuses the bytes.
  if (fs::exists("/dev/full")) {
    e = error_of(
        [&] { cli::write_heatmap("/dev/full", cli::PictureFormat::kPng, v, 0, 1, kLabels); });
    EXPECT_NE(e.find("/dev/full: write failed"), std::string::npos) << e;
  }
}

constexpr Rgb kFirstSeries{31, 119, 180}, kSecondSeries{214, 39, 40};

// The mean row of the pixels of colour c in column x (or -1).
double mean_row(const Image& im, Rgb c, int x) {
  double sum = 0;
  int n = 0;
  for (int y = 0; y < im.height; ++y) {
    if (im.at(x, y) == c) sum += y, ++n;
  }
  return n > 0 ? sum / n : -1;
}

TEST(Pictures, LinePlotSkipsNaNAndInfiniteAndDrawsAConstantSeries) {
  const fs::path dir = temp_dir("line");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Series> series{
      {"with gaps", {1, 2, 3, nan, 5, 6, inf}, {0.1, nan, 0.3, 0.4, 0.5, 0.6, 0.7}},
      {"constant", {1, 2, 3, 4, 5, 6}, {0.2, 0.2, 0.2, 0.2, 0.2, 0.2}},
      {"nothing to draw", {nan}, {1.0}}};
  cli::write_line_plot(dir / "p.png", "gaps", "x [1]", "y [V]", series);
  const std::optional<Image> im = read_png(dir / "p.png");
  ASSERT_TRUE(im.has_value());
  EXPECT_EQ(im->width, 880);
  EXPECT_EQ(im->height, 560);
  const int plot = im->width * 68 / 100;  // the legend is right of the plot
  const Box first = find(*im, kFirstSeries, 0, plot), second = find(*im, kSecondSeries, 0, plot);
  EXPECT_GT(first.n, 100);
  EXPECT_GT(second.n, 100);
  // The constant series is a horizontal line.
  EXPECT_LT(second.y1 - second.y0, 20);
  EXPECT_GT(second.x1 - second.x0, plot / 2);
  // Only constant values: a range around them.
  cli::write_line_plot(dir / "flat.svg", "flat", "x [1]", "y [V]", {{"one point", {2.0}, {3.0}}});
  EXPECT_NE(slurp(dir / "flat.svg").find("<svg"), std::string::npos);
  // No series, or nothing finite: axes and a note.
  cli::write_line_plot(dir / "none.pdf", "none", "x [1]", "y [V]", {});
  cli::write_line_plot(dir / "nan.png", "nan", "x [1]", "y [V]", {{"nan", {nan}, {nan}}});
  EXPECT_TRUE(read_png(dir / "nan.png").has_value());
  EXPECT_EQ(slurp(dir / "none.pdf").rfind("%PDF-", 0), 0u);
  const std::string e = error_of([&] {
    cli::write_line_plot(dir / "bad.png", "t", "x", "y", {{"short", {1.0, 2.0}, {1.0}}});
  });
  EXPECT_NE(e.find("series 'short' has 2 x and 1 y values"), std::string::npos) << e;
}

// y = 10^x is a straight line on a logarithmic y axis: half way between the outer points the
// line is half way up; on a linear axis it is near the bottom. Values <= 0 are skipped on a log
// axis (they would not change the picture).
TEST(Pictures, LogAxes) {
  const fs::path dir = temp_dir("log");
  const Series s{"10^x", {1, 2, 3, 4, 5, 6}, {10, 100, 1000, 10000, 0.0, -1.0}};
  const Series linear_s{"10^x", {1, 2, 3, 4}, {10, 100, 1000, 10000}};
  cli::write_line_plot(dir / "log.png", "log", "x [1]", "y [V]", {s}, false, true);
  cli::write_line_plot(dir / "lin.png", "lin", "x [1]", "y [V]", {linear_s});
  cli::write_line_plot(dir / "loglog.png", "loglog", "x [1]", "y [V]", {s}, true, true);
  const std::optional<Image> log = read_png(dir / "log.png"), lin = read_png(dir / "lin.png");
  ASSERT_TRUE(log && lin && read_png(dir / "loglog.png"));
  const auto midpoint_fraction = [](const Image& im) {
    const Box b = find(im, kFirstSeries, 0, im.width * 68 / 100);
    const double left = mean_row(im, kFirstSeries, b.x0 + 2);
    const double right = mean_row(im, kFirstSeries, b.x1 - 2);
    const double mid = mean_row(im, kFirstSeries, (b.x0 + b.x1) / 2);
    return (mid - right) / (left - right);  // 0 at the right end's height, 1 at the left's
  };
  EXPECT_NEAR(midpoint_fraction(*log), 0.5, 0.05);
  EXPECT_GT(midpoint_fraction(*lin), 0.9);
}

// Labels reach the picture as text, never as markup.
TEST(Pictures, MarkupInLabelsIsDrawnAsText) {
  const fs::path dir = temp_dir("markup");
  cli::write_line_plot(dir / "p.svg", "conv<1> & co", "x", "y", {{"R&D", {1.0, 2.0}, {0.1, 0.2}}});
  const std::string text = slurp(dir / "p.svg");
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_EQ(text.find("conv<1>"), std::string::npos);
  EXPECT_EQ(text.find("R&D"), std::string::npos);
}

// PLplot is not thread-safe: figures from several threads are drawn one at a time.
TEST(Pictures, FiguresFromSeveralThreads) {
  const fs::path dir = temp_dir("threads");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const fs::path p = dir / fmt::format("t{}.png", t);
      if (t % 2 == 0) {
        cli::write_heatmap(p, Eigen::MatrixXd::Constant(3, 3, t), 0, 4, kLabels);
      } else {
        cli::write_line_plot(p, "t", "x", "y", {{"s", {1, 2, 3}, {1.0 * t, 2.0, 3.0}}});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_TRUE(read_png(dir / fmt::format("t{}.png", t)).has_value()) << t;
  }
}

}  // namespace
}  // namespace xbarnet
