// Pictures: the IR-drop heatmap of a tile and line plots of sweeps, drawn by PLplot (its C++
// binding and its cairo driver) as PNG, SVG or PDF, with titles, labelled axes with units, tick
// labels, colour bars and legends.
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <string>
#include <vector>

namespace xbarnet::cli {

enum class PictureFormat { kPng, kSvg, kPdf };

// The format a file name asks for: .png, .svg or .pdf (any case). Throws InputError naming the
// file and the rule for anything else.
PictureFormat picture_format(const std::filesystem::path& name);

struct HeatmapLabels {
  std::string title;
  std::string x_label = "column j";
  std::string y_label = "row i";
  std::string bar_label = "value";  // with its unit, e.g. "IR drop [V]"
};

// R x C values as a heatmap: row 0 at the top and column 0 at the left (like the matrix), square
// cells, a viridis colour scale from `lo` (dark) to `hi` (yellow; values outside are clamped,
// NaN cells are left white) and a colour bar labelled `labels.bar_label`. The format comes from
// the extension of `path`. Throws InputError naming the file when the format is unknown or the
// file cannot be written.
void write_heatmap(const std::filesystem::path& path, const Eigen::MatrixXd& values, double lo,
                   double hi, const HeatmapLabels& labels);
// The same in a given format, for a path whose name does not say it (OutputSet::stage()).
void write_heatmap(const std::filesystem::path& path, PictureFormat format,
                   const Eigen::MatrixXd& values, double lo, double hi,
                   const HeatmapLabels& labels);

struct Series {
  std::string name;
  std::vector<double> x, y;  // the same length
};

// A line plot: every series as a line with markers, a legend with the series' names. Points that
// are NaN or infinite (or <= 0 on a logarithmic axis) are skipped and break the line there; an
// axis whose points are all equal gets a range around that value. The format comes from the
// extension of `path`. Throws InputError naming the file when the format is unknown, a series'
// x and y differ in length, or the file cannot be written.
void write_line_plot(const std::filesystem::path& path, const std::string& title,
                     const std::string& x_label, const std::string& y_label,
                     const std::vector<Series>& series, bool log_x = false, bool log_y = false);
// The same in a given format, for a path whose name does not say it (OutputSet::stage()).
void write_line_plot(const std::filesystem::path& path, PictureFormat format,
                     const std::string& title, const std::string& x_label,
                     const std::string& y_label, const std::vector<Series>& series,
                     bool log_x = false, bool log_y = false);

}  // namespace xbarnet::cli
