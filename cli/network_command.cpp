#include "cli/network_command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/dataset.hpp"
#include "cli/npy.hpp"
#include "cli/output.hpp"
#include "cli/pictures.hpp"
#include "cli/sweep.hpp"
#include "networks/crossbar_network.hpp"
#include "solver/build_info.hpp"

namespace xbarnet::cli {

namespace {

namespace fs = std::filesystem;

// "table.key=value" of --set: the data table here, the simulation tables by set_option().
void apply_set(NetworkConfig& c, const std::string& text) {
  const SweepAxis a = parse_sweep_axis(text, "--set");
  if (a.values.size() != 1) {
    throw InputError(fmt::format("--set '{}': one value (table.key=value)", text));
  }
  if (a.table == "data") {
    set_data_option(c.data, a.key, a.values[0], "--set");
    if (a.key == "dir") c.data_dir = c.data.dir;  // as given on the command line
    return;
  }
  set_option(c.options, a.table, a.key, a.values[0], "--set");
}

struct Point {
  std::string v1, v2;
  mapping::SimulationOptions options;
  double accuracy = 0.0, ideal_accuracy = -1.0, agreement = 0.0;
  std::int64_t arrays = 0, tiles = 0;
  double setup_s = 0.0, eval_s = 0.0, ideal_eval_s = 0.0, ideal_setup_s = 0.0;
  double adc_energy = 0.0, clipped_fraction = 0.0;
  std::int64_t inputs_clipped = 0;
  std::vector<std::string> layer_lines;
};

// One line on a terminal, rewritten in place; cleared when done and when an error unwinds past it
// (so the error message starts on a clean line).
class ProgressLine {
 public:
  ProgressLine(std::ostream& err, bool on) : err_(err), on_(on) {}
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { done(); }
  void operator()(const std::string& point, const networks::Progress& p) const {
    if (!on_) return;
    shown_ = true;
    if (p.phase == networks::Progress::Phase::kSetup) {
      err_ << fmt::format("\r{}setup: layers {}/{}, tiles {}/{}{}\x1b[K", point, p.layers_done,
                          p.layers, p.tiles_done, p.tiles,
                          p.layer.empty() ? "" : fmt::format(" ({})", p.layer));
    } else {
      err_ << fmt::format("\r{}images {}/{}\x1b[K", point, p.images_done, p.images);
    }
    err_.flush();
  }
  void done() const {
    if (shown_) err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
  }

 private:
  std::ostream& err_;
  bool on_;
  mutable bool shown_ = false;
};

std::string layer_line(const networks::Step& s, const mapping::PreparedLayer& p) {
  const mapping::LayerReport& r = p.report;
  return fmt::format("  {:<10} {:<34} {:>9} {:>6} {:>7} {:>11.3g} {:>9.3f}", s.name,
                     s.layer.shape.brief(), mapping::to_string(r.plan.options.scheme),
                     fmt::format("{}x{}", r.plan.options.array.rows, r.plan.options.array.cols),
                     r.plan.arrays, r.worst_ir_drop_fraction, p.setup_seconds);
}

}  // namespace

int run_network(const NetworkArgs& args, std::ostream& out, std::ostream& err) {
  if (args.vary.size() > 2) {
    throw InputError(fmt::format("--vary: at most two parameters (given {})", args.vary.size()));
  }
  NetworkConfig c = load_network_config(args.config);
  for (const std::string& s : args.set) apply_set(c, s);
  if (args.threads > 0) c.options.threads = args.threads;
  const std::vector<SweepAxis> axes = parse_sweep_axes(args.vary);
  const SweepAxis none{"", "", {""}, false};
  const SweepAxis& a1 = axes.empty() ? none : axes[0];
  const SweepAxis& a2 = axes.size() > 1 ? axes[1] : none;
  const std::string n1 = a1.key.empty() ? "" : fmt::format("{}.{}", a1.table, a1.key);
  const std::string n2 = a2.key.empty() ? "" : fmt::format("{}.{}", a2.table, a2.key);

  // Every point's options, checked before anything runs.
  std::vector<Point> points;
  for (const std::string& v2 : a2.values) {
    for (const std::string& v1 : a1.values) {
      Point p;
      p.v1 = v1;
      p.v2 = v2;
      p.options = c.options;
      if (!n1.empty()) set_option(p.options, a1.table, a1.key, v1);
      if (!n2.empty()) set_option(p.options, a2.table, a2.key, v2);
      networks::NetworkOptions no{p.options, c.data.batch};
      for (std::size_t i : c.network.weighted_steps()) {
        StatusOr<mapping::SimulationOptions> o = networks::layer_options(no, c.network.steps[i], 0);
        if (!o.is_ok()) {
          throw InputError(fmt::format(
              "{}: {}{}: {}", c.path.string(), n1.empty() ? "" : fmt::format("{}={} ", n1, v1),
              n2.empty() ? "" : fmt::format("{}={} ", n2, v2), o.status().message()));
        }
      }
      points.push_back(std::move(p));
    }
  }

  // The data: test images evaluated, training images for the calibration pass.
  const networks::DataSet test = load_idx_dataset(c.data_dir, "t10k", c.data.images, c.network);
  const networks::DataSet calibration =
      load_idx_dataset(c.data_dir, "train", c.data.calibration_images, c.network);
  StatusOr<networks::Evaluation> fl = networks::evaluate_float(c.network, test, c.data.batch);
  if (!fl.is_ok()) throw_status("the float network", fl.status());
  const networks::Evaluation& float_eval = fl.value();

  // Ideal crossbars have no parasitics and no correction: points that differ only there share
  // one ideal-crossbar run.
  const auto ideal_irrelevant = [](const SweepAxis& a) {
    return a.table == "parasitics" || a.table == "correction";
  };
  struct IdealRun {
    double accuracy = 0.0, setup_s = 0.0, eval_s = 0.0;
  };
  std::map<std::string, IdealRun> ideal_runs;
  const ProgressLine progress(err, args.progress);
  for (std::size_t k = 0; k < points.size(); ++k) {
    Point& p = points[k];
    const std::string where = n1.empty()
                                  ? std::string()
                                  : fmt::format("[{}/{}] {}={}{}: ", k + 1, points.size(), n1, p.v1,
                                                n2.empty() ? "" : fmt::format(", {}={}", n2, p.v2));
    const auto on_progress = [&](const networks::Progress& pr) { progress(where, pr); };
    const std::string what = n1.empty()
                                 ? fmt::format("network '{}'", c.network.name)
                                 : fmt::format("network '{}' at {}={}{}", c.network.name, n1, p.v1,
                                               n2.empty() ? "" : fmt::format(", {}={}", n2, p.v2));
    const networks::NetworkOptions no{p.options, c.data.batch};
    StatusOr<networks::CrossbarNetwork> x =
        networks::CrossbarNetwork::prepare(c.network, no, calibration.images, on_progress);
    if (!x.is_ok()) throw_status(what, x.status());
    StatusOr<networks::Evaluation> e = networks::evaluate(x.value(), test, on_progress);
    if (!e.is_ok()) throw_status(what, e.status());
    p.accuracy = e.value().accuracy;
    p.arrays = x.value().arrays();
    p.tiles = x.value().tiles();
    p.setup_s = x.value().setup_seconds();
    p.eval_s = e.value().seconds;
    p.adc_energy = e.value().adc_energy_per_image;
    p.clipped_fraction = e.value().adc_conversions > 0
                             ? static_cast<double>(e.value().adc_clipped) /
                                   static_cast<double>(e.value().adc_conversions)
                             : 0.0;
    p.inputs_clipped = e.value().inputs_clipped;
    std::int64_t same = 0;
    for (std::size_t i = 0; i < float_eval.predicted.size(); ++i) {
      same += e.value().predicted[i] == float_eval.predicted[i] ? 1 : 0;
    }
    p.agreement = static_cast<double>(same) / static_cast<double>(float_eval.images);
    for (std::size_t i : c.network.weighted_steps()) {
      p.layer_lines.push_back(layer_line(c.network.steps[i], *x.value().layer(i)));
    }
    const std::string ideal_key = (ideal_irrelevant(a1) ? std::string() : p.v1) + "\n" +
                                  (ideal_irrelevant(a2) ? std::string() : p.v2);
    if (const auto it = ideal_runs.find(ideal_key); args.ideal && it != ideal_runs.end()) {
      p.ideal_accuracy = it->second.accuracy;
      p.ideal_setup_s = it->second.setup_s;
      p.ideal_eval_s = it->second.eval_s;
    } else if (args.ideal) {
      // The same mapping, devices and ADC on ideal crossbars (no parasitics, no correction).
      const networks::NetworkOptions ideal = networks::on_ideal_crossbars(no);
      StatusOr<networks::CrossbarNetwork> xi =
          networks::CrossbarNetwork::prepare(c.network, ideal, calibration.images, on_progress);
      if (!xi.is_ok()) throw_status(what + " on ideal crossbars", xi.status());
      StatusOr<networks::Evaluation> ei = networks::evaluate(xi.value(), test, on_progress);
      if (!ei.is_ok()) throw_status(what + " on ideal crossbars", ei.status());
      p.ideal_accuracy = ei.value().accuracy;
      p.ideal_setup_s = xi.value().setup_seconds();
      p.ideal_eval_s = ei.value().seconds;
      ideal_runs[ideal_key] = {p.ideal_accuracy, p.ideal_setup_s, p.ideal_eval_s};
    }
    progress.done();
  }

  // ---- report: text, CSV, JSON, and a plot over the first parameter
  std::string text = fmt::format(
      "xbarnet network {}: '{}', {} weighted layers, {} test images (calibration: {} training "
      "images)\nfloat network: accuracy {:.4f}\n",
      c.path.string(), c.network.name, c.network.weighted_steps().size(), test.images.dim(0),
      calibration.images.dim(0), float_eval.accuracy);
  if (points.size() == 1) {
    text += fmt::format("  {:<10} {:<34} {:>9} {:>6} {:>7} {:>11} {:>9}\n", "layer", "shape",
                        "scheme", "array", "arrays", "worst drop", "setup s");
    for (const std::string& l : points[0].layer_lines) text += l + "\n";
  }
  text += fmt::format("{:>22} {:>16} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>11}\n",
                      n1.empty() ? "" : n1, n2, "accuracy", "ideal xb", "agree", "arrays",
                      "setup s", "images/s", "ADC J/img");
  nlohmann::json rows = nlohmann::json::array();
  std::string csv;
  if (!n1.empty()) csv += n1 + ",";
  if (!n2.empty()) csv += n2 + ",";
  csv +=
      "float_accuracy,ideal_crossbar_accuracy,accuracy,agreement_with_float,arrays,tiles,"
      "setup_seconds,evaluate_seconds,images_per_second,ideal_images_per_second,adc_energy_per_"
      "image_J,adc_clipped_fraction,inputs_clipped\n";
  // The same as a Markdown table (docs/networks.md is assembled from these).
  std::string md = "|";
  if (!n1.empty()) md += fmt::format(" `{}` |", n1);
  if (!n2.empty()) md += fmt::format(" `{}` |", n2);
  md +=
      " float [%] | ideal crossbars [%] | simulated [%] | loss [pp] | same as float [%] | arrays "
      "| ADC energy [J/image] |\n|";
  for (std::size_t i = 0; i < (n1.empty() ? 0u : 1u) + (n2.empty() ? 0u : 1u) + 7u; ++i) {
    md += "---|";
  }
  md += "\n";
  const double n_images = static_cast<double>(test.images.dim(0));
  for (const Point& p : points) {
    const double ips = n_images / p.eval_s;
    const double ideal_ips = p.ideal_eval_s > 0.0 ? n_images / p.ideal_eval_s : 0.0;
    text += fmt::format("{:>22} {:>16} {:>9.4f} {:>9} {:>9.4f} {:>7} {:>9.2f} {:>9.1f} {:>11.3g}\n",
                        p.v1, p.v2, p.accuracy,
                        p.ideal_accuracy >= 0.0 ? fmt::format("{:.4f}", p.ideal_accuracy) : "-",
                        p.agreement, p.arrays, p.setup_s, ips, p.adc_energy);
    nlohmann::json j = {{"float_accuracy", float_eval.accuracy},
                        {"accuracy", p.accuracy},
                        {"agreement_with_float", p.agreement},
                        {"arrays", p.arrays},
                        {"tiles", p.tiles},
                        {"setup_seconds", p.setup_s},
                        {"evaluate_seconds", p.eval_s},
                        {"images_per_second", ips},
                        {"adc_energy_per_image_J", p.adc_energy},
                        {"adc_clipped_fraction", p.clipped_fraction},
                        {"inputs_clipped", p.inputs_clipped}};
    if (p.ideal_accuracy >= 0.0) {
      j["ideal_crossbar_accuracy"] = p.ideal_accuracy;
      j["ideal_images_per_second"] = ideal_ips;
    }
    if (!n1.empty()) j[n1] = p.v1;
    if (!n2.empty()) j[n2] = p.v2;
    rows.push_back(j);
    md += "|";
    if (!n1.empty()) md += fmt::format(" {} |", p.v1);
    if (!n2.empty()) md += fmt::format(" {} |", p.v2);
    md += fmt::format(
        " {:.2f} | {} | {:.2f} | {:.2f} | {:.2f} | {} | {:.3g} |\n", 100.0 * float_eval.accuracy,
        p.ideal_accuracy >= 0.0 ? fmt::format("{:.2f}", 100.0 * p.ideal_accuracy) : "-",
        100.0 * p.accuracy, 100.0 * (float_eval.accuracy - p.accuracy), 100.0 * p.agreement,
        p.arrays, p.adc_energy);
    if (!n1.empty()) csv += p.v1 + ",";
    if (!n2.empty()) csv += p.v2 + ",";
    csv +=
        fmt::format("{:.17g},{},{:.17g},{:.17g},{},{},{:.6g},{:.6g},{:.6g},{},{:.6g},{:.6g},{}\n",
                    float_eval.accuracy,
                    p.ideal_accuracy >= 0.0 ? fmt::format("{:.17g}", p.ideal_accuracy) : "",
                    p.accuracy, p.agreement, p.arrays, p.tiles, p.setup_s, p.eval_s, ips,
                    p.ideal_accuracy >= 0.0 ? fmt::format("{:.6g}", ideal_ips) : "", p.adc_energy,
                    p.clipped_fraction, p.inputs_clipped);
  }

  const fs::path dir = args.output_dir.empty() ? fs::path(c.output.dir) : fs::path(args.output_dir);
  make_output_directory(dir);
  OutputSet outputs;
  const std::string stem = c.network.name;
  const fs::path csv_path = dir / (stem + ".network.csv");
  const fs::path json_path = dir / (stem + ".network.json");
  const fs::path md_path = dir / (stem + ".network.md");
  outputs.write_text(csv_path, [&](std::ostream& f) { f << csv; });
  outputs.write_text(md_path, [&](std::ostream& f) { f << md; });
  nlohmann::json report = {{"config", c.path.string()},
                           {"build", solver::build_info()},
                           {"network", c.network.name},
                           {"test_images", test.images.dim(0)},
                           {"calibration_images", calibration.images.dim(0)},
                           {"float_accuracy", float_eval.accuracy},
                           {"vary", args.vary},
                           {"set", args.set},
                           {"points", rows}};
  outputs.write_text(json_path, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
  std::vector<std::string> plots;
  if (!n1.empty()) {
    const fs::path plot_path = dir / (stem + ".network.png");
    std::vector<Series> series;
    for (const std::string& v2 : a2.values) {
      Series s{n2.empty() ? "crossbars" : fmt::format("{} = {}", n2, v2), {}, {}};
      Series f{n2.empty() ? "float network" : fmt::format("float ({} = {})", n2, v2), {}, {}};
      for (const Point& p : points) {
        if (p.v2 != v2) continue;
        const double x = a1.numeric ? std::stod(p.v1) : static_cast<double>(s.x.size());
        s.x.push_back(x);
        s.y.push_back(100.0 * p.accuracy);
      }
      series.push_back(std::move(s));
      if (series.size() == 1) {
        f.name = "float network";
        f.x = series[0].x;
        f.y.assign(f.x.size(), 100.0 * float_eval.accuracy);
        series.insert(series.begin(), std::move(f));
      }
    }
    const std::string x_label =
        a1.numeric ? n1 : fmt::format("{} ({})", n1, fmt::join(a1.values, ", "));
    write_line_plot(outputs.stage(plot_path), PictureFormat::kPng,
                    fmt::format("{}: recognition rate on crossbars", c.network.name), x_label,
                    "recognition rate [%]", series);
    plots.push_back(plot_path.string());
  }
  const std::vector<std::string> replaced = outputs.commit();
  out << text
      << fmt::format("table: {}, {} and {}\n", csv_path.string(), json_path.string(),
                     md_path.string());
  if (!plots.empty()) out << fmt::format("plot: {}\n", fmt::join(plots, ", "));
  if (!replaced.empty()) out << fmt::format("replaced: {}\n", fmt::join(replaced, ", "));
  return kExitOk;
}

}  // namespace xbarnet::cli
