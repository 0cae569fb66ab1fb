#include "cli/sweep.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/npy.hpp"
#include "cli/output.hpp"
#include "cli/pictures.hpp"
#include "cli/report.hpp"
#include "mapping/experiments.hpp"
#include "solver/build_info.hpp"

namespace xbarnet::cli {

namespace fs = std::filesystem;

namespace {

// A number written in full (no trailing characters), or nothing.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T v{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return v;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    parts.emplace_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

// The text of a value as the declared kind of parameter `p` reads it.
template <typename S>
core::Value value_of(const core::Parameter<S>& p, const std::string& table, const std::string& text,
                     std::string_view flag) {
  const auto bad = [&](const std::string& rule) -> core::Value {
    throw InputError(fmt::format("{} {}.{}: '{}' {}", flag, table, p.name, text, rule));
  };
  switch (p.kind) {
    case core::ParameterKind::kReal:
      if (auto v = parse_number<double>(text)) return *v;
      return bad("is not a number");
    case core::ParameterKind::kInteger:
      if (auto v = parse_number<std::int64_t>(text)) return *v;
      return bad("is not an integer");
    case core::ParameterKind::kBoolean:
      if (text == "true" || text == "false") return text == "true";
      return bad("must be true or false");
    case core::ParameterKind::kChoice:
    case core::ParameterKind::kText:
      return text;
    case core::ParameterKind::kIntegerPair: {
      // "256" is a square array; "128x256" rows x columns.
      const std::vector<std::string> parts = split(text, 'x');
      std::vector<std::int64_t> v;
      for (const std::string& part : parts) {
        if (auto n = parse_number<std::int64_t>(part)) v.push_back(*n);
      }
      if (v.size() == 1 && parts.size() == 1) return std::vector<std::int64_t>{v[0], v[0]};
      if (v.size() == 2 && parts.size() == 2) return v;
      return bad("must be n (n x n) or RxC, e.g. 256 or 128x256");
    }
  }
  return bad("has a kind of parameter that cannot be swept");
}

// Sets `key` of the declared table `decl` in `s` when the table is `table`; false otherwise.
template <typename S>
bool set_in(const core::ParameterTable<S>& decl, S& s, const std::string& table,
            const std::string& key, const std::string& text, std::string_view flag) {
  if (decl.table() != table) return false;
  const core::Parameter<S>* p = decl.find(key);
  if (p == nullptr) {
    throw InputError(fmt::format("{} {}.{}: [{}] has no parameter '{}' (known: {})", flag, table,
                                 key, table, key, fmt::join(decl.names(), ", ")));
  }
  if (Status st = decl.set(s, key, value_of(*p, table, text, flag)); !st.is_ok()) {
    throw InputError(fmt::format("{} {}.{}: {}", flag, table, key, st.message()));
  }
  return true;
}

// The swept metrics: name (with its unit), and how to read it from a layer's report.
struct Metric {
  std::string name;
  std::function<double(const mapping::LayerReport&)> get;
};

// The errors of the array columns the layer's tiles used (error_by_column is 0 elsewhere; a
// used column without error adds nothing to either end), nearest the drivers first.
std::vector<double> used_column_errors(const mapping::LayerReport& r) {
  std::vector<double> used;
  for (double e : r.error_by_column) {
    if (e > 0.0) used.push_back(e);
  }
  return used;
}

// Mean error of the first (near) or last (far) quarter of the used columns.
double quarter_error(const mapping::LayerReport& r, bool far) {
  const std::vector<double> used = used_column_errors(r);
  const size_t q = (used.size() + 3) / 4;
  if (q == 0) return 0.0;
  double s = 0.0;
  for (size_t k = 0; k < q; ++k) s += used[far ? used.size() - 1 - k : k];
  return s / static_cast<double>(q);
}

std::vector<Metric> metrics() {
  return {
      {"arrays", [](const auto& r) { return static_cast<double>(r.plan.arrays); }},
      {"relative_rmse", [](const auto& r) { return r.relative_rmse; }},
      {"max_relative_error", [](const auto& r) { return r.max_rel_error; }},
      {"mac_rmse", [](const auto& r) { return r.mac_rmse; }},
      {"worst_ir_drop_fraction", [](const auto& r) { return r.worst_ir_drop_fraction; }},
      // The first and last quarter of the used array columns: near and far from the drivers.
      {"near_column_error", [](const auto& r) { return quarter_error(r, false); }},
      {"far_column_error", [](const auto& r) { return quarter_error(r, true); }},
      {"adc_conversions", [](const auto& r) { return static_cast<double>(r.adc_conversions); }},
      {"adc_clipped_fraction",
       [](const auto& r) {
         return r.adc_conversions > 0
                    ? static_cast<double>(r.adc_clipped) / static_cast<double>(r.adc_conversions)
                    : 0.0;
       }},
      {"adc_energy_J", [](const auto& r) { return r.adc_energy; }},
      {"correction_tile_error_before",
       [](const auto& r) { return r.correction.error_before_mean; }},
      {"correction_tile_error_after", [](const auto& r) { return r.correction.error_after_mean; }},
      {"correction_factorizations",
       [](const auto& r) { return static_cast<double>(r.correction.factorizations); }},
      {"seconds", [](const auto& r) { return r.seconds.total; }},
  };
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

SweepAxis parse_sweep_axis(std::string_view text, std::string_view flag) {
  const size_t eq = text.find('=');
  const size_t dot = text.find('.');
  if (eq == std::string_view::npos || dot == std::string_view::npos || dot > eq) {
    throw InputError(fmt::format("{} '{}': must be table.key={} (e.g. parasitics.r_wordline={})",
                                 flag, text, flag == "--vary" ? "v1,v2,..." : "value",
                                 flag == "--vary" ? "0.5,1,2" : "2.5"));
  }
  SweepAxis a;
  a.table = std::string(text.substr(0, dot));
  a.key = std::string(text.substr(dot + 1, eq - dot - 1));
  a.values = split(text.substr(eq + 1), ',');
  for (const std::string& v : a.values) {
    if (v.empty()) throw InputError(fmt::format("{} '{}': an empty value", flag, text));
  }
  a.numeric = std::all_of(a.values.begin(), a.values.end(),
                          [](const std::string& v) { return parse_number<double>(v).has_value(); });
  return a;
}

std::vector<SweepAxis> parse_sweep_axes(const std::vector<std::string>& vary) {
  std::vector<SweepAxis> axes;
  for (const std::string& v : vary) axes.push_back(parse_sweep_axis(v));
  if (axes.size() == 2 && axes[0].table == axes[1].table && axes[0].key == axes[1].key) {
    throw InputError(fmt::format("--vary {}.{} is given twice: vary two different parameters",
                                 axes[0].table, axes[0].key));
  }
  return axes;
}

void set_option(mapping::SimulationOptions& o, const std::string& table, const std::string& key,
                const std::string& value, std::string_view flag) {
  if (table == "parasitics" && key == "r_line") {
    // Both wires at once: the "wire resistance" the source papers sweep.
    set_option(o, table, "r_wordline", value, flag);
    set_option(o, table, "r_bitline", value, flag);
    return;
  }
  const bool found =
      set_in(mapping::mapping_parameters(), o.mapping, table, key, value, flag) ||
      set_in(devices::device_parameters(), o.device, table, key, value, flag) ||
      set_in(devices::variation_parameters(), o.variation, table, key, value, flag) ||
      set_in(devices::adc_parameters(), o.adc, table, key, value, flag) ||
      set_in(corrections::correction_parameters(), o.correction, table, key, value, flag) ||
      set_in(netlists::parasitic_parameters(), o.parasitics, table, key, value, flag) ||
      set_in(mapping::simulation_parameters(), o, table, key, value, flag);
  if (!found) {
    throw InputError(
        fmt::format("{} {}.{}: no table [{}] (known: mapping, device, variation, adc, correction, "
                    "parasitics, simulation)",
                    flag, table, key, table));
  }
}

void set_data_option(DataOptions& data, const std::string& key, const std::string& value,
                     std::string_view flag) {
  set_in(data_parameters(), data, "data", key, value, flag);
}

int run_sweep(const SweepArgs& args, std::ostream& out, std::ostream& /*err*/) {
  if (args.vary.empty() || args.vary.size() > 2) {
    throw InputError(fmt::format(
        "--vary: give one or two parameters to sweep (given {}), e.g. --vary "
        "parasitics.r_wordline=0.5,1,2 --vary correction.scheme=none,exact_compensation",
        args.vary.size()));
  }
  Config c = load_config(args.config, true);
  if (args.threads > 0) c.options.threads = args.threads;
  const LayerEntry& e = find_layer(c, args.layer);
  const std::vector<SweepAxis> axes = parse_sweep_axes(args.vary);
  const SweepAxis none{"", "", {""}, false};
  const SweepAxis& a1 = axes[0];
  const SweepAxis& a2 = axes.size() > 1 ? axes[1] : none;

  // Every point's options, checked before anything runs.
  struct Point {
    std::string v1, v2;
    mapping::SimulationOptions options;
    mapping::LayerReport report;
  };
  std::vector<Point> points;
  for (const std::string& v2 : a2.values) {
    for (const std::string& v1 : a1.values) {
      Point p{v1, v2, layer_options(c.options, e), {}};
      set_option(p.options, a1.table, a1.key, v1);
      if (!a2.key.empty()) set_option(p.options, a2.table, a2.key, v2);
      if (Status st = mapping::validate(p.options); !st.is_ok()) {
        throw InputError(fmt::format(
            "--vary {}.{}={}{}: {}", a1.table, a1.key, v1,
            a2.key.empty() ? "" : fmt::format(", {}.{}={}", a2.table, a2.key, v2), st.message()));
      }
      points.push_back(std::move(p));
    }
  }

  const fs::path dir = args.output_dir.empty() ? fs::path(c.output.dir) : fs::path(args.output_dir);
  make_output_directory(dir);
  const std::vector<Metric> ms = metrics();
  const std::string n1 = fmt::format("{}.{}", a1.table, a1.key);
  const std::string n2 = a2.key.empty() ? "" : fmt::format("{}.{}", a2.table, a2.key);
  std::string text = fmt::format("xbarnet sweep {}: layer {} ({}), {} point(s)\n", c.path.string(),
                                 e.name, e.shape.describe(), points.size());
  text += fmt::format("{:>22} {:>16} {:>8} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}\n", n1,
                      n2.empty() ? "" : n2, "arrays", "rel. rmse", "max rel err", "worst drop",
                      "near col", "far col", "time s");
  nlohmann::json rows = nlohmann::json::array();
  std::string csv = csv_field(n1);
  if (!n2.empty()) csv += "," + csv_field(n2);
  for (const Metric& m : ms) csv += "," + m.name;
  csv += "\n";
  for (Point& p : points) {
    StatusOr<mapping::SimulationResult> r = mapping::simulate(
        *e.layer, *e.input, p.options, {}, e.calibration ? &*e.calibration : nullptr);
    if (!r.is_ok()) {
      throw_status(fmt::format("layer '{}' at {}={}{}", e.name, n1, p.v1,
                               n2.empty() ? "" : fmt::format(", {}={}", n2, p.v2)),
                   r.status());
    }
    p.report = std::move(r.value().report);
    const mapping::LayerReport& rep = p.report;
    nlohmann::json j = {{n1, p.v1}};
    if (!n2.empty()) j[n2] = p.v2;
    csv += csv_field(p.v1);
    if (!n2.empty()) csv += "," + csv_field(p.v2);
    for (const Metric& m : ms) {
      const double v = m.get(rep);
      j[m.name] = v;
      csv += fmt::format(",{:.17g}", v);
    }
    csv += "\n";
    rows.push_back(j);
    text += fmt::format(
        "{:>22} {:>16} {:>8} {:>12.4g} {:>12.4g} {:>12.4g} {:>12.4g} {:>12.4g} {:>9.3f}\n", p.v1,
        p.v2, rep.plan.arrays, rep.relative_rmse, rep.max_rel_error, rep.worst_ir_drop_fraction,
        quarter_error(rep, false), quarter_error(rep, true), rep.seconds.total);
  }

  // One series per value of the second parameter; x is the first parameter's value (or its
  // position when it is not a number).
  const auto series_of = [&](const std::function<double(const mapping::LayerReport&)>& get,
                             const std::string& single) {
    std::vector<Series> all;
    for (const std::string& v2 : a2.values) {
      Series s{n2.empty() ? single : v2, {}, {}};
      for (const Point& p : points) {
        if (p.v2 != v2) continue;
        s.x.push_back(a1.numeric ? *parse_number<double>(p.v1) : static_cast<double>(s.x.size()));
        s.y.push_back(get(p.report));
      }
      all.push_back(std::move(s));
    }
    return all;
  };
  // A log axis when the values are positive and span more than a decade and a half.
  const auto wide = [](const std::vector<Series>& series) {
    double lo = INFINITY, hi = 0.0;
    for (const Series& s : series) {
      for (double y : s.y) {
        lo = std::min(lo, y);
        hi = std::max(hi, y);
      }
    }
    return lo > 0.0 && hi > 30.0 * lo;
  };
  const std::string by = n2.empty() ? std::string() : fmt::format(", by {}", n2);
  const std::string x_label =
      a1.numeric ? n1 : fmt::format("{} ({})", n1, fmt::join(a1.values, ", "));
  OutputSet outputs;
  const fs::path csv_path = dir / (e.name + ".sweep.csv");
  const fs::path json_path = dir / (e.name + ".sweep.json");
  const fs::path plot_path = dir / (e.name + ".sweep.png");
  const fs::path energy_path = dir / (e.name + ".sweep.energy.png");
  outputs.write_text(csv_path, [&](std::ostream& f) { f << csv; });
  nlohmann::json report = {{"config", c.path.string()}, {"build", solver::build_info()},
                           {"layer", e.name},           {"shape", e.shape.describe()},
                           {"vary", args.vary},         {"points", rows}};
  outputs.write_text(json_path, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
  const std::vector<Series> error_series =
      series_of([](const mapping::LayerReport& r) { return r.relative_rmse; }, "relative RMSE");
  write_line_plot(outputs.stage(plot_path), PictureFormat::kPng,
                  fmt::format("{}: output error against ideal arrays{}", e.name, by), x_label,
                  "relative RMSE of the outputs [1]", error_series, false, wide(error_series));
  std::vector<std::string> plots{plot_path.string()};
  const bool any_energy = std::any_of(points.begin(), points.end(),
                                      [](const Point& p) { return p.report.adc_energy > 0.0; });
  if (any_energy) {
    const std::vector<Series> energy_series =
        series_of([](const mapping::LayerReport& r) { return r.adc_energy; }, "ADC energy");
    write_line_plot(outputs.stage(energy_path), PictureFormat::kPng,
                    fmt::format("{}: ADC energy per batch{}", e.name, by), x_label,
                    "ADC energy [J]", energy_series, false, wide(energy_series));
    plots.push_back(energy_path.string());
  }
  const std::vector<std::string> replaced = outputs.commit();
  out << text
      << fmt::format("table: {} and {}\nplots: {}\n", csv_path.string(), json_path.string(),
                     fmt::join(plots, ", "));
  if (!replaced.empty()) out << fmt::format("replaced: {}\n", fmt::join(replaced, ", "));
  return kExitOk;
}

}  // namespace xbarnet::cli
