#include "cli/layer_commands.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/npy.hpp"
#include "cli/output.hpp"
#include "cli/pictures.hpp"
#include "cli/report.hpp"
#include "mapping/experiments.hpp"
#include "netlists/spice.hpp"
#include "solver/build_info.hpp"
#include "solver/crossbar_system.hpp"

namespace xbarnet::cli {

namespace fs = std::filesystem;

namespace {

std::string percent(double v) { return fmt::format("{:.3g} %", 100.0 * v); }

// "1.678e+07 E_1", or "n/a (ideal ADC)".
std::string cost_text(std::optional<double> cost) {
  return cost ? fmt::format("{:.4g} E_1", *cost) : std::string("n/a (ideal ADC)");
}

nlohmann::json optional_json(std::optional<double> v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string describe_mapping(const mapping::Plan& p) {
  const auto& o = p.options;
  std::string s =
      fmt::format("{} on {} x {} arrays ({}): {} tile(s) in {} row group(s)",
                  mapping::to_string(o.scheme), o.array.rows, o.array.cols,
                  p.sign == devices::SignScheme::kDifferential ? "differential column pairs"
                                                               : "one reference column per array",
                  p.tiles.size(), p.groups);
  if (p.lowering.copies > 1) {
    s += fmt::format(" x {} sub-images of {}x{} outputs", p.lowering.copies, p.lowering.subimage,
                     p.lowering.subimage);
  }
  if (o.scheme == mapping::Scheme::kInputSplit)
    s += fmt::format(", merge {}", mapping::to_string(o.merge));
  return s;
}

// Mean of `v` over `bins` equal ranges of indices, as "a | b | c".
std::string profile(const std::vector<double>& v, int bins) {
  std::vector<std::string> parts;
  const auto n = static_cast<int>(v.size());
  for (int b = 0; b < bins && b < n; ++b) {
    const int lo = b * n / bins, hi = (b + 1) * n / bins;
    double s = 0.0;
    for (int i = lo; i < hi; ++i) s += v[i];
    parts.push_back(fmt::format("{}-{}: {}", lo, hi - 1, percent(s / std::max(hi - lo, 1))));
  }
  return fmt::format("{}", fmt::join(parts, " | "));
}

}  // namespace

nlohmann::json plan_json(const mapping::Plan& p) {
  return {{"scheme", std::string(mapping::to_string(p.options.scheme))},
          {"array", {p.options.array.rows, p.options.array.cols}},
          {"sign", std::string(devices::to_string(p.sign))},
          {"tiles", p.tiles.size()},
          {"row_groups", p.groups},
          {"copies", p.lowering.copies},
          {"subimage", p.lowering.subimage},
          {"arrays", p.arrays},
          {"cells_total", p.cells_total},
          {"cells_used", p.cells_used},
          {"utilisation", p.utilisation},
          {"halo_rows", p.halo_rows},
          {"lowered_rows", p.lowering.inputs},
          {"lowered_outputs", p.lowering.outputs},
          {"note", p.note}};
}

nlohmann::json stop_reasons_json(const mapping::CorrectionSummary& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [why, tiles] : c.stop_reasons) j[why] = tiles;
  return j;
}

// "converged 3, max_refactorizations 1"
std::string stop_reasons_text(const mapping::CorrectionSummary& c) {
  std::vector<std::string> parts;
  for (const auto& [why, tiles] : c.stop_reasons) parts.push_back(fmt::format("{} {}", why, tiles));
  return fmt::format("{}", fmt::join(parts, ", "));
}

nlohmann::json report_json(const std::string& name, const mapping::LayerShape& shape,
                           const mapping::SimulationOptions& o, const mapping::LayerReport& r) {
  nlohmann::json tiles = nlohmann::json::array();
  for (const auto& t : r.tiles) {
    tiles.push_back({{"rows", {t.spec.k0, t.spec.k0 + t.spec.nk}},
                     {"outputs", {t.spec.m0, t.spec.m0 + t.spec.nm}},
                     {"group", t.spec.group},
                     {"worst_ir_drop_fraction", t.worst_ir_drop},
                     {"mean_ir_drop_fraction", t.mean_ir_drop},
                     {"current_error", t.current_error},
                     {"method", t.health.method},
                     {"relative_residual", t.health.residual},
                     {"transfer_check", t.health.transfer_check},
                     {"seconds", t.seconds}});
  }
  return {
      {"layer", name},
      {"shape", shape.describe()},
      {"mapping", plan_json(r.plan)},
      {"device", parameters_json(devices::device_parameters(), o.device)},
      {"parasitics", parameters_json(netlists::parasitic_parameters(), o.parasitics)},
      {"options",
       {{"mapping", parameters_json(mapping::mapping_parameters(), o.mapping)},
        {"simulation", parameters_json(mapping::simulation_parameters(), o)}}},
      {"error",
       {{"rmse", r.rmse},
        {"ideal_rms", r.ideal_rms},
        {"relative_rmse", r.relative_rmse},
        {"max_abs", r.max_abs_error},
        {"max_relative", r.max_rel_error},
        {"mac_rmse", r.mac_rmse},
        {"mac_max_relative", r.mac_max_rel_error},
        {"by_column", r.error_by_column},
        {"loss_by_row", r.loss_by_row}}},
      {"ir_drop", r.ir_drop_mapped
                      ? nlohmann::json{{"worst_fraction_of_v_read", r.worst_ir_drop_fraction},
                                       {"mean_fraction_of_v_read", r.mean_ir_drop_fraction},
                                       {"worst_tile", r.worst_tile}}
                      : nlohmann::json{{"worst_fraction_of_v_read", nullptr},
                                       {"mean_fraction_of_v_read", nullptr},
                                       {"worst_tile", nullptr}}},
      {"variation", parameters_json(devices::variation_parameters(), o.variation)},
      {"programming",
       {{"programmer", r.programming},
        {"cells", r.programming_stats.cells},
        {"stuck_lrs", r.programming_stats.stuck_lrs},
        {"stuck_hrs", r.programming_stats.stuck_hrs},
        {"verify_pulses", r.programming_stats.verify_pulses},
        {"out_of_band", r.programming_stats.out_of_band}}},
      {"adc",
       {{"parameters", parameters_json(devices::adc_parameters(), o.adc)},
        {"bits", o.device.adc_bits},
        {"full_scale_A", {r.adc_full_scale_min, r.adc_full_scale_max}},
        {"conversions", r.adc_conversions},
        {"clipped", r.adc_clipped},
        {"nonzero", r.adc_nonzero},
        {"energy_per_conversion_J", devices::conversion_energy(o.adc, o.device.adc_bits)},
        {"energy_J", r.adc_energy}}},
      {"correction",
       {{"parameters", parameters_json(corrections::correction_parameters(), o.correction)},
        {"scheme", r.correction.scheme},
        {"assumes", r.correction.assumes},
        {"tile_error_before",
         {{"mean", r.correction.error_before_mean}, {"worst", r.correction.error_before_worst}}},
        {"tile_error_after",
         {{"mean", r.correction.error_after_mean}, {"worst", r.correction.error_after_worst}}},
        {"beta_min", r.correction.beta_min},
        {"iterations_max", r.correction.iterations_max},
        {"factorizations", r.correction.factorizations},
        {"stop_reasons", stop_reasons_json(r.correction)},
        {"cells_at_g_min", r.correction.cells_at_g_min},
        {"cells_at_g_max", r.correction.cells_at_g_max},
        {"rows_at_headroom", r.correction.rows_at_headroom},
        {"calibration_reads", r.correction.calibration_reads},
        {"extra_columns", r.correction.extra_columns},
        {"reprogrammed_cells", r.correction.reprogrammed_cells},
        {"seconds", r.correction.seconds},
        {"check_seconds", r.correction.check_seconds}}},
      {"reference_column", r.plan.sign == devices::SignScheme::kReference
                               ? nlohmann::json{{"worst_ir_drop_fraction_of_v_read",
                                                 r.reference_worst_ir_drop >= 0.0
                                                     ? nlohmann::json(r.reference_worst_ir_drop)
                                                     : nlohmann::json(nullptr)},
                                                {"current_error", r.reference_current_error}}
                               : nlohmann::json(nullptr)},
      {"calibrated", r.calibrated},
      {"inputs_clipped", r.inputs_clipped},
      {"adc_conversions", r.adc_conversions},
      {"adc_cost_E1", optional_json(mapping::adc_cost_e1(r))},
      {"solver",
       {{"programming", r.programming},
        {"response", r.response},
        {"backend", r.backend},
        {"ordering", r.ordering},
        {"analyses", r.analyses},
        {"method", r.tiles.empty() ? std::string() : r.tiles.front().health.method},
        {"worst_relative_residual", r.worst_residual},
        {"worst_transfer_check", r.worst_transfer_check},
        {"tiny_resistances_merged", r.tiny_shorts}}},
      {"input_vectors_per_tile", r.input_vectors},
      {"w_max", r.w_max},
      {"x_max", r.x_max},
      {"time_s",
       {{"map", r.seconds.map},
        {"program", r.seconds.program},
        {"circuit", r.seconds.circuit},
        {"apply", r.seconds.apply},
        {"stitch", r.seconds.stitch},
        {"total", r.seconds.total}}},
      {"threads", r.threads},
      {"threads_asked", o.threads},
      {"tiles", tiles}};
}

namespace {

std::string report_text(const std::string& name, const mapping::LayerShape& shape,
                        const mapping::SimulationOptions& o, const mapping::LayerReport& r,
                        std::int64_t batch) {
  const auto& p = r.plan;
  std::string s = fmt::format("layer {}: {}; batch {}\n", name, shape.describe(), batch);
  s += fmt::format("  mapping      {}\n", describe_mapping(p));
  if (!p.note.empty()) s += fmt::format("  note         {}\n", p.note);
  s += fmt::format("  arrays       {} unit arrays, {} of {} cells used ({}), {} rows on halos\n",
                   p.arrays, p.cells_used, p.cells_total, percent(p.utilisation), p.halo_rows);
  s += fmt::format("  device       {}\n", parameters_text(devices::device_parameters(), o.device));
  s += fmt::format("  parasitics   {}\n",
                   parameters_text(netlists::parasitic_parameters(), o.parasitics));
  s += fmt::format(
      "  output error rmse {:.4g} ({} of the ideal rms {:.4g}); max |error| {:.4g} ({} of max "
      "|ideal|)\n",
      r.rmse, percent(r.relative_rmse), r.ideal_rms, r.max_abs_error, percent(r.max_rel_error));
  s += fmt::format("  MAC error    rmse {:.4g}; max {} of max |ideal| (before the activation)\n",
                   r.mac_rmse, percent(r.mac_max_rel_error));
  s += fmt::format("  by column    {}  (RMS current error / RMS ideal current, array columns)\n",
                   profile(r.error_by_column, 8));
  s += fmt::format("  by row       {}  (share of a row's current lost, array rows)\n",
                   profile(r.loss_by_row, 8));
  s += r.ir_drop_mapped
           ? fmt::format(
                 "  IR drop      worst {} of v_read (tile {}), mean {} (every used row of a tile "
                 "at v_read)\n",
                 percent(r.worst_ir_drop_fraction), r.worst_tile, percent(r.mean_ir_drop_fraction))
           : std::string("  IR drop      n/a (ir_drop = false)\n");
  const devices::VariationParams& var = o.variation;
  if (r.programming_stats.cells > 0 || var.read_noise > 0.0) {
    s += fmt::format("  devices      {}\n", parameters_text(devices::variation_parameters(), var));
    s += fmt::format(
        "  programmed   {} cells: {} stuck at LRS, {} stuck at HRS; {} verify pulses, {} cells "
        "left outside the band\n",
        r.programming_stats.cells, r.programming_stats.stuck_lrs, r.programming_stats.stuck_hrs,
        r.programming_stats.verify_pulses, r.programming_stats.out_of_band);
  }
  s += fmt::format("  ADC          {} conversions per batch ({})\n", r.adc_conversions,
                   o.device.adc_bits == 0
                       ? std::string("ideal ADC: no cost counted")
                       : fmt::format("{} bits; cost {} = conversions x 2^bits", o.device.adc_bits,
                                     cost_text(mapping::adc_cost_e1(r))));
  if (o.device.adc_bits > 0) {
    s += fmt::format(
        "  ADC range    {}: full scale {:.4g} .. {:.4g} A over the tiles; {} of {} conversions "
        "clipped ({}); energy {:.4g} J per batch ({} model, {:.4g} J per conversion)\n",
        devices::to_string(o.adc.range), r.adc_full_scale_min, r.adc_full_scale_max, r.adc_clipped,
        r.adc_conversions,
        percent(r.adc_conversions > 0
                    ? static_cast<double>(r.adc_clipped) / static_cast<double>(r.adc_conversions)
                    : 0.0),
        r.adc_energy, devices::to_string(o.adc.energy_model),
        devices::conversion_energy(o.adc, o.device.adc_bits));
  }
  if (r.correction.scheme != "none") {
    const mapping::CorrectionSummary& c = r.correction;
    s += fmt::format(
        "  correction   {}: tile error of T {} -> {} (mean), {} -> {} (worst); target scale beta "
        ">= {:.4g}; stopped: {}\n",
        c.scheme, percent(c.error_before_mean), percent(c.error_after_mean),
        percent(c.error_before_worst), percent(c.error_after_worst), c.beta_min,
        stop_reasons_text(c));
    s += fmt::format(
        "  its cost     {} cells reprogrammed, {} calibration reads, {} extra columns, {} "
        "factorizations (at most {} iterations a tile), {:.3f} s (+ {:.3f} s of checks); bounds "
        "bind on {} cells at G_min, {} at G_max, {} rows at the driver's headroom\n",
        c.reprogrammed_cells, c.calibration_reads, c.extra_columns, c.factorizations,
        c.iterations_max, c.seconds, c.check_seconds, c.cells_at_g_min, c.cells_at_g_max,
        c.rows_at_headroom);
    s += fmt::format("  it assumes   {}\n", c.assumes);
  }
  if (r.plan.sign == devices::SignScheme::kReference) {
    s += fmt::format(
        "  reference    column C-1: current error {} (RMS against ideal){}\n",
        percent(r.reference_current_error),
        r.reference_worst_ir_drop >= 0.0
            ? fmt::format(", worst IR drop {} of v_read", percent(r.reference_worst_ir_drop))
            : std::string());
  }
  s += fmt::format(
      "  inputs       {}{}\n",
      r.calibrated ? "scale from the calibration batch" : "scale from the batch itself",
      r.calibrated ? fmt::format(", {} input values beyond it clipped", r.inputs_clipped)
                   : std::string());
  s += fmt::format(
      "  solver       {} backend, ordering {}, {} symbolic analys{} for {} tile(s); {}; worst "
      "residual {:.3e}, worst |I - T v| / |I| {}\n",
      r.backend, r.ordering, r.analyses, r.analyses == 1 ? "is" : "es", r.tiles.size(),
      r.tiles.empty() ? std::string("no tile") : r.tiles.front().health.method, r.worst_residual,
      r.worst_transfer_check >= 0.0 ? fmt::format("{:.3e}", r.worst_transfer_check)
                                    : std::string("n/a (no circuit)"));
  if (r.tiny_shorts > 0) {
    s += fmt::format(
        "  merged       {} resistance(s) in all tiles too small to tell from a short (conductance "
        "above {:g} times a tile's largest cell's) merged as exact shorts; give them as 0\n",
        r.tiny_shorts, solver::kShortRatio);
  }
  s += fmt::format(
      "  time [s]     map {:.3f}, program {:.3f}, circuit {:.3f}, apply {:.3f}, stitch {:.3f}; "
      "wall {:.3f} with {} thread(s)\n",
      r.seconds.map, r.seconds.program, r.seconds.circuit, r.seconds.apply, r.seconds.stitch,
      r.seconds.total,
      r.threads == o.threads
          ? fmt::format("{}", r.threads)
          : fmt::format("{} (asked {}, capped at the hardware's)", r.threads, o.threads));
  return s;
}

void write_tensor(const fs::path& p, const mapping::Tensor& t) {
  write_npy(p, t.shape, t.data.data());
}

template <typename T>
T value_or_throw(StatusOr<T> r, const std::string& what) {
  if (!r.is_ok()) throw_status(what, r.status());
  return std::move(r).value();
}

mapping::SimulationResult simulate_or_throw(const LayerEntry& e,
                                            const mapping::SimulationOptions& o) {
  return value_or_throw(
      mapping::simulate(*e.layer, *e.input, o, {}, e.calibration ? &*e.calibration : nullptr),
      fmt::format("layer '{}'", e.name));
}

}  // namespace

int run_simulate(const SimulateArgs& args, std::ostream& out, std::ostream& /*err*/) {
  Config c = load_config(args.config, true);
  if (args.threads > 0) c.options.threads = args.threads;
  const fs::path dir = args.output_dir.empty() ? fs::path(c.output.dir) : fs::path(args.output_dir);
  make_output_directory(dir);
  // The whole output set is staged and moved into place only when every layer succeeded.
  OutputSet outputs;
  nlohmann::json report = {{"config", c.path.string()},
                           {"build", solver::build_info()},
                           {"layers", nlohmann::json::array()}};
  std::string text = fmt::format("xbarnet simulate {}\n  build        {}\n\n", c.path.string(),
                                 solver::build_info());
  for (const LayerEntry& e : c.layers) {
    const mapping::SimulationOptions o = layer_options(c.options, e);
    const mapping::SimulationResult r = simulate_or_throw(e, o);
    const fs::path sim = dir / (e.name + ".simulated.npy");
    const fs::path ideal = dir / (e.name + ".ideal.npy");
    write_tensor(outputs.stage(sim), r.simulated);
    write_tensor(outputs.stage(ideal), r.ideal);
    text += report_text(e.name, e.shape, o, r.report, e.input->dim(0));
    std::vector<std::string> files{sim.string(), ideal.string()};
    nlohmann::json j = report_json(e.name, e.shape, o, r.report);
    if (r.report.worst_tile >= 0 && o.ir_drop) {
      const fs::path png = dir / (e.name + ".ir_drop.png");
      write_heatmap(
          outputs.stage(png), picture_format(png), r.report.worst_ir_drop, 0.0,
          r.report.worst_ir_drop.maxCoeff(),
          {fmt::format("{}: IR drop across the cells of tile {}", e.name, r.report.worst_tile),
           "column j", "row i", "IR drop [V]"});
      files.push_back(png.string());
      j["ir_drop"]["heatmap"] = png.string();
      j["ir_drop"]["heatmap_scale_V"] = {0.0, r.report.worst_ir_drop.maxCoeff()};
      text += fmt::format("  heatmap      {}: IR drop of tile {}, 0 (dark) .. {:.4g} V (yellow)\n",
                          png.string(), r.report.worst_tile, r.report.worst_ir_drop.maxCoeff());
    }
    if (o.mapping.scheme == mapping::Scheme::kInputSplit) {
      const mapping::SplitComparison cmp = value_or_throw(
          mapping::compare_with_partial_sums(*e.layer, *e.input, o, r.report,
                                             e.calibration ? &*e.calibration : nullptr),
          fmt::format("layer '{}' (partial-sum baseline)", e.name));
      const auto& br = cmp.baseline;
      text += fmt::format(
          "  baseline     partial sums (im2col, {}-bit ADC): {} arrays, {} row groups, relative "
          "rmse {}, {} conversions, cost {} ({})\n",
          cmp.baseline_options.device.adc_bits, br.plan.arrays, br.plan.groups,
          percent(br.relative_rmse), br.adc_conversions, cost_text(cmp.baseline_cost_e1),
          cmp.cost_ratio ? fmt::format("{:.3g}x the split layer's", *cmp.cost_ratio)
                         : std::string("no cost ratio: an ideal ADC has no cost to compare"));
      j["partial_sum_baseline"] = report_json(e.name, e.shape, cmp.baseline_options, br);
      j["partial_sum_baseline"]["cost_ratio_to_split"] = optional_json(cmp.cost_ratio);
      j["partial_sum_baseline"]["adc_energy_J"] = cmp.baseline_energy;
      j["partial_sum_baseline"]["split_adc_energy_J"] = cmp.split_energy;
      j["partial_sum_baseline"]["energy_ratio_to_split"] = optional_json(cmp.energy_ratio);
      text += fmt::format(
          "  ADC energy   split {:.4g} J, partial sums {:.4g} J per batch ({} model): {}\n",
          cmp.split_energy, cmp.baseline_energy, devices::to_string(o.adc.energy_model),
          cmp.energy_ratio
              ? fmt::format("partial sums take {:.3g}x the split layer's", *cmp.energy_ratio)
              : std::string("no ratio: an ideal ADC has no energy to compare"));
    }
    j["files"] = files;
    text += fmt::format("  files        {}\n\n", fmt::join(files, ", "));
    report["layers"].push_back(j);
  }
  const fs::path json_path = dir / "report.json";
  const fs::path text_path = dir / "report.txt";
  outputs.write_text(json_path, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
  outputs.write_text(text_path, [&](std::ostream& f) { f << text; });
  const std::vector<std::string> replaced = outputs.commit();
  out << text << fmt::format("report: {} and {}\n", json_path.string(), text_path.string());
  if (!replaced.empty()) out << fmt::format("replaced: {}\n", fmt::join(replaced, ", "));
  return kExitOk;
}

int run_compare(const CompareArgs& args, std::ostream& out, std::ostream& /*err*/) {
  if (args.arrays.empty())
    throw InputError("--arrays needs at least one size, e.g. --arrays 128,256");
  for (long n : args.arrays) {
    if (n < 2) throw InputError(fmt::format("--arrays {}: sizes must be >= 2", n));
  }
  Config c = load_config(args.config, true);
  if (args.threads > 0) c.options.threads = args.threads;
  const fs::path dir = args.output_dir.empty() ? fs::path(c.output.dir) : fs::path(args.output_dir);
  make_output_directory(dir);
  OutputSet outputs;
  const std::vector<std::int64_t> sizes(args.arrays.begin(), args.arrays.end());
  nlohmann::json report = nlohmann::json::array();
  std::string text = fmt::format("xbarnet compare {} on square arrays of {} rows and columns\n",
                                 c.path.string(), fmt::join(args.arrays, ", "));
  for (const LayerEntry& e : c.layers) {
    const std::vector<mapping::SimulationResult> results = value_or_throw(
        mapping::compare_array_sizes(*e.layer, *e.input, layer_options(c.options, e), sizes,
                                     e.calibration ? &*e.calibration : nullptr),
        fmt::format("layer '{}'", e.name));
    text += fmt::format("\nlayer {}: {}\n", e.name, e.shape.describe());
    text += fmt::format("{:>7} {:>7} {:>6} {:>8} {:>12} {:>12} {:>12} {:>12} {:>10}\n", "array",
                        "arrays", "tiles", "utilis.", "rel. rmse", "max rel err", "worst drop",
                        "ADC conv.", "time s");
    Series rmse{"relative RMSE", {}, {}}, drop{"worst IR drop / v_read", {}, {}};
    for (size_t k = 0; k < sizes.size(); ++k) {
      const mapping::LayerReport& rep = results[k].report;
      const std::int64_t n = sizes[k];
      text += fmt::format(
          "{:>7} {:>7} {:>6} {:>8} {:>12.4g} {:>12.4g} {:>12.4g} {:>12} {:>10.3f}\n", n,
          rep.plan.arrays, rep.plan.tiles.size(), percent(rep.plan.utilisation), rep.relative_rmse,
          rep.max_rel_error, rep.worst_ir_drop_fraction, rep.adc_conversions, rep.seconds.total);
      rmse.x.push_back(static_cast<double>(n));
      rmse.y.push_back(rep.relative_rmse);
      drop.x.push_back(static_cast<double>(n));
      drop.y.push_back(rep.worst_ir_drop_fraction);
      if (!rep.plan.note.empty()) text += fmt::format("{:>7} note: {}\n", "", rep.plan.note);
      mapping::SimulationOptions o = layer_options(c.options, e);
      o.mapping.array = {n, n};
      nlohmann::json j = report_json(e.name, e.shape, o, rep);
      j["array_size"] = n;
      report.push_back(j);
    }
    const fs::path svg = dir / (e.name + ".compare.svg");
    write_line_plot(outputs.stage(svg), picture_format(svg),
                    fmt::format("{}: error vs array size", e.name), "array size (rows = columns)",
                    "fraction [1]", {rmse, drop});
    text += fmt::format("plot: {}\n", svg.string());
  }
  const fs::path json_path = dir / "compare.json";
  outputs.write_text(json_path, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
  const std::vector<std::string> replaced = outputs.commit();
  out << text << fmt::format("report: {}\n", json_path.string());
  if (!replaced.empty()) out << fmt::format("replaced: {}\n", fmt::join(replaced, ", "));
  return kExitOk;
}

int run_map(const MapArgs& args, std::ostream& out, std::ostream& /*err*/) {
  const Config c = load_config(args.config, false);
  std::vector<mapping::LayerShape> shapes;
  for (const LayerEntry& e : c.layers) shapes.push_back(e.shape);
  const std::vector<std::int64_t> sizes(args.arrays.begin(), args.arrays.end());
  const mapping::NetworkCounts counts = value_or_throw(
      mapping::count_network(shapes, c.options.mapping, c.options.device.sign, sizes),
      c.path.string());
  nlohmann::json report = nlohmann::json::array();
  std::string text = fmt::format("xbarnet map {}: {} scheme, {}\n", c.path.string(),
                                 mapping::to_string(c.options.mapping.scheme),
                                 devices::to_string(c.options.device.sign));
  text += fmt::format("{:<12} {:<44} {:>6} {:>9} {:>7} {:>8} {:>10} {:>10}  {}\n", "layer", "shape",
                      "array", "arrays", "groups", "utilis.", "halo rows", "2D+1D", "");
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const LayerEntry& e = c.layers[l];
    for (const mapping::LayerCounts& lc : counts.layers[l]) {
      const mapping::Plan& pl = lc.plan;
      nlohmann::json j = {
          {"layer", e.name}, {"shape", e.shape.describe()}, {"mapping", plan_json(pl)}};
      std::string alt = "-";
      if (lc.kernel_split) {
        alt = fmt::format("{}", lc.kernel_split->arrays);
        j["depthwise_pointwise"] = {{"depthwise", plan_json(lc.kernel_split->depthwise)},
                                    {"pointwise", plan_json(lc.kernel_split->pointwise)},
                                    {"arrays", lc.kernel_split->arrays},
                                    {"halo_rows", lc.kernel_split->halo_rows}};
      }
      text += fmt::format("{:<12} {:<44} {:>6} {:>9} {:>7} {:>8} {:>10} {:>10}\n", e.name,
                          e.shape.brief(), fmt::format("{}x{}", lc.array_rows, lc.array_cols),
                          pl.arrays, pl.groups, percent(pl.utilisation), pl.halo_rows, alt);
      if (!pl.note.empty()) text += fmt::format("{:<12} note: {}\n", "", pl.note);
      report.push_back(j);
    }
  }
  for (const mapping::NetworkCounts::Total& t : counts.totals) {
    text += fmt::format("total at {}x{}: {} unit arrays; with every 3D-kernel conv as 2D+1D: {}\n",
                        t.array_rows, t.array_cols, t.arrays, t.arrays_2d1d);
  }
  if (!args.report.empty()) {
    OutputSet outputs;
    outputs.write_text(args.report, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
    outputs.commit();
  }
  out << text;
  return kExitOk;
}

int run_export_tile(const ExportTileArgs& args, std::ostream& out, std::ostream& err) {
  if (args.output.empty()) throw InputError("--output is required (the .cir file to write)");
  const Config c = load_config(args.config, true);
  const LayerEntry& e = find_layer(c, args.layer);
  StatusOr<mapping::TileCircuit> tc =
      mapping::tile_circuit(*e.layer, *e.input, layer_options(c.options, e), args.tile, args.vector,
                            e.calibration ? &*e.calibration : nullptr);
  if (!tc.is_ok()) throw_status(fmt::format("layer '{}'", e.name), tc.status());
  netlists::SpiceOptions so;
  so.title = fmt::format(
      "xbarnet tile {} of layer '{}' ({}), input vector {}; rows {}..{}, outputs {}..{}", args.tile,
      e.name, e.shape.describe(), args.vector, tc.value().spec.k0,
      tc.value().spec.k0 + tc.value().spec.nk - 1, tc.value().spec.m0,
      tc.value().spec.m0 + tc.value().spec.nm - 1);
  OutputSet outputs;
  if (int rc =
          write_netlist_file(outputs, args.output, tc.value().xbar, tc.value().inputs, so, err);
      rc != kExitOk) {
    return rc;
  }
  outputs.commit();
  fmt::print(
      out, "wrote {}: tile {} of layer '{}' ({} x {} array), input vector {}; run: ngspice -b {}\n",
      args.output, args.tile, e.name, tc.value().xbar.rows(), tc.value().xbar.cols(), args.vector,
      args.output);
  return kExitOk;
}

}  // namespace xbarnet::cli
