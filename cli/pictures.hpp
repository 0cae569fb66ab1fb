// Pictures: the IR-drop heatmap of a tile (PNG) and line plots (SVG).
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xbarnet::cli {

// R x C values as a PNG heatmap: row 0 at the top, column 0 at the left, each cell a square of
// pixels, a viridis-like colour scale from `lo` (dark) to `hi` (yellow) and a colour bar on the
// right. Throws InputError when the file cannot be written.
void write_heatmap_png(const std::filesystem::path& path, const Eigen::MatrixXd& values, double lo,
                       double hi);

struct Series {
  std::string name;
  std::vector<double> x, y;
};

// Text for XML character data or an attribute: & < > ' " as entities.
std::string xml_escape(std::string_view text);

// A line plot with axes, ticks and a legend, as SVG (every text escaped).
void write_line_plot_svg(const std::filesystem::path& path, const std::string& title,
                         const std::string& x_label, const std::string& y_label,
                         const std::vector<Series>& series);

}  // namespace xbarnet::cli
