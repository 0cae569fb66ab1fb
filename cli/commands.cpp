#include "cli/commands.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <array>
#include <fstream>
#include <ostream>

#include "cli/config.hpp"
#include "cli/npy.hpp"
#include "cli/output.hpp"
#include "cli/report.hpp"
#include "devices/device.hpp"
#include "mapping/simulate.hpp"
#include "netlists/spice.hpp"

namespace xbarnet::cli {

namespace fs = std::filesystem;

namespace {

solver::Backend backend_from(const std::string& name) {
  StatusOr<solver::Backend> b = solver::parse_backend(name);
  if (!b.is_ok()) throw InputError(fmt::format("--{}", b.status().message()));
  return b.value();
}

// K x 4 x R x C: word-line voltage, bit-line voltage, voltage across the cell, and the IR drop
// (intended input voltage minus the voltage across the cell), for the K input vectors in
// `inputs` (every input, or those listed with --voltage-inputs, in that order).
void write_voltages(const fs::path& path, const Tile& tile, const Eigen::MatrixXd& inputs,
                    const solver::CrossbarSolution& s) {
  const Eigen::Index n_vec = inputs.rows();
  const Eigen::Index r = tile.xbar.rows();
  const Eigen::Index c = tile.xbar.cols();
  std::vector<double> data(static_cast<size_t>(n_vec * 4 * r * c));
  size_t at = 0;
  for (Eigen::Index k = 0; k < n_vec; ++k) {
    const std::array<Eigen::MatrixXd, 4> planes{s.word_voltage[k], s.bit_voltage[k],
                                                s.cell_voltage(k), s.ir_drop(k, inputs)};
    for (const Eigen::MatrixXd& plane : planes) {
      for (Eigen::Index i = 0; i < r; ++i) {
        for (Eigen::Index j = 0; j < c; ++j) data[at++] = plane(i, j);
      }
    }
  }
  write_npy(path, {n_vec, 4, r, c}, data.data());
}

}  // namespace

void throw_status(const std::string& what, const Status& status) {
  const std::string message = fmt::format("{}: {}", what, status.to_string());
  if (core::is_solver_failure(status.code())) throw SolveError(message);
  throw InputError(message);
}

int run_solve(const SolveArgs& args, std::ostream& out, std::ostream& err) {
  if (args.threads < 1) throw InputError(fmt::format("--threads {}: must be >= 1", args.threads));
  if (args.format != "table" && args.format != "json" && args.format != "none") {
    throw InputError(fmt::format("--format '{}': must be table, json or none", args.format));
  }
  const Tile tile = load_tile(args.tile);
  solver::SystemOptions system;
  system.backend = backend_from(args.backend);
  StatusOr<solver::Ordering> ordering = solver::parse_ordering(args.ordering);
  if (!ordering.is_ok()) throw InputError(fmt::format("--{}", ordering.status().message()));
  system.ordering = ordering.value();
  if (!(args.memory_limit >= 0.0)) {
    throw InputError(fmt::format("--memory-limit {}: must be >= 0 bytes", args.memory_limit));
  }
  system.memory_limit = args.memory_limit;
  solver::SolveOptions options;
  options.threads = args.threads;
  if (!args.voltage_inputs.empty() && args.voltages.empty()) {
    throw InputError("--voltage-inputs needs --voltages (the file to write them to)");
  }
  options.node_voltages = !args.voltages.empty() && args.voltage_inputs.empty();
  StatusOr<solver::SolvePath> path = solver::parse_solve_path(args.path);
  if (!path.is_ok()) throw InputError(fmt::format("--{}", path.status().message()));
  StatusOr<solver::CrossbarRun> run = solver::solve_crossbar(
      tile.xbar, tile.inputs, system, options, path.value(), args.voltage_inputs);
  if (!run.is_ok()) {
    if (!core::is_solver_failure(run.status().code())) throw_status("the tile", run.status());
    fmt::print(err, "xbarnet: cannot solve the tile: {}\n", run.status().to_string());
    return kExitSolveError;
  }
  const solver::CrossbarSolution& sol = run.value().solution;
  const RunInfo info{&tile, &run.value(), system, options};

  // Every output staged and written first, moved into place only when all of them succeeded.
  OutputSet outputs;
  if (!args.output.empty()) {
    const fs::path tmp = outputs.stage(args.output);
    if (tile.single_vector) {
      write_npy_vector(tmp, sol.column_current.row(0).transpose());
    } else {
      write_npy_matrix(tmp, sol.column_current);
    }
  }
  if (!args.voltages.empty()) {
    const std::vector<Eigen::Index>& listed = run.value().voltage_inputs;
    const Eigen::MatrixXd asked =
        listed.empty() ? tile.inputs : Eigen::MatrixXd(tile.inputs(listed, Eigen::all));
    write_voltages(outputs.stage(args.voltages), tile, asked, sol);
  }

  nlohmann::json report = summary_json(info);
  report["column_current_A"] = nlohmann::json::array();
  for (Eigen::Index k = 0; k < sol.column_current.rows(); ++k) {
    std::vector<double> row(sol.column_current.row(k).begin(), sol.column_current.row(k).end());
    report["column_current_A"].push_back(row);
  }
  if (!args.report.empty()) {
    outputs.write_text(args.report, [&](std::ostream& f) { f << report.dump(2) << "\n"; });
  }
  outputs.commit();
  if (args.format == "json") {
    out << report.dump(2) << "\n";
    return kExitOk;
  }
  if (args.format == "table") out << currents_table(sol.column_current, 32) << "\n";
  out << summary_text(info);
  return kExitOk;
}

int write_netlist_file(OutputSet& outputs, const std::string& path, const netlists::Crossbar& xbar,
                       const Eigen::MatrixXd& inputs, const netlists::SpiceOptions& options,
                       std::ostream& err) {
  Status status;
  outputs.write_text(
      path, [&](std::ostream& f) { status = netlists::write_spice(f, xbar, inputs, options); });
  if (!status.is_ok()) {
    fmt::print(err, "xbarnet: cannot export the tile: {}\n", status.to_string());
    return kExitInputError;  // the temporary is removed with `outputs`, nothing is replaced
  }
  return kExitOk;
}

int run_export_spice(const ExportArgs& args, std::ostream& out, std::ostream& err) {
  if (args.output.empty()) throw InputError("--output is required (the .cir file to write)");
  const Tile tile = load_tile(args.tile);
  netlists::SpiceOptions options;
  options.title = fmt::format("xbarnet tile: {}", tile.origin);
  options.control_block = args.control_block;
  OutputSet outputs;
  if (int rc = write_netlist_file(outputs, args.output, tile.xbar, tile.inputs, options, err);
      rc != kExitOk) {
    return rc;
  }
  outputs.commit();
  fmt::print(out, "wrote {}: {} x {} crossbar, {} input vector(s); run: ngspice -b {}\n",
             args.output, tile.xbar.rows(), tile.xbar.cols(), tile.inputs.rows(), args.output);
  return kExitOk;
}

namespace {

template <typename S>
void list_parameters(const core::ParameterTable<S>& t, std::string& out) {
  for (const core::Parameter<S>& p : t.parameters()) {
    out +=
        fmt::format("{:<18} [{}] default {}; {}: {}\n", t.table() + "." + p.name,
                    p.unit.empty() ? "1" : p.unit, core::default_text(p), p.rule(), p.description);
  }
}

}  // namespace

std::string parameters_markdown() {
  std::string out =
      "# Parameters\n\n"
      "Generated by `xbarnet params --markdown` from the declarations in the code (one per\n"
      "parameter: name, unit, default, rule, description); a test checks that this file is\n"
      "exactly what the code declares. The same declarations read the layer configuration, check\n"
      "its values (the messages quote the rules below), and write the JSON reports. The layer\n"
      "configuration as a whole (its `[[layer]]` tables included) is described in\n"
      "[config.md](config.md).\n\n"
      "## Circuit: `xbarnet solve` and `export-spice` options, `[parasitics]` of a layer config\n\n"
      "Options also take `open` (+inf) or a `.npy` file of per-row, per-segment or per-column\n"
      "values. In a layer config they must be finite (a layer's arrays have no open elements).\n\n";
  out += core::markdown(netlists::parasitic_parameters(), true);
  out += "\n## Devices: `[device]` of a layer config\n\n";
  out += core::markdown(devices::device_parameters());
  out += "\n## Device non-idealities: `[variation]` of a layer config\n\n";
  out += core::markdown(devices::variation_parameters());
  out += "\n## ADC range and energy: `[adc]` of a layer config (its bits: `[device]` adc_bits)\n\n";
  out += core::markdown(devices::adc_parameters());
  out +=
      "\n## Corrections: `[correction]` of a layer config (a layer's `correction` key sets its "
      "own scheme)\n\n";
  out += core::markdown(corrections::correction_parameters());
  out += "\n## Mapping: `[mapping]` of a layer config\n\n";
  out += core::markdown(mapping::mapping_parameters());
  out += "\n## Simulation: `[simulation]` of a layer config\n\n";
  out += core::markdown(mapping::simulation_parameters());
  out += "\n## Output: `[output]` of a layer config\n\n";
  out += core::markdown(output_parameters());
  out +=
      "\n## Data set: `[data]` of a network config (the rest of a network config: "
      "[networks.md](networks.md))\n\n";
  out += core::markdown(data_parameters());
  return out;
}

int run_params(bool markdown, std::ostream& out) {
  if (markdown) {
    out << parameters_markdown();
    return kExitOk;
  }
  std::string text;
  list_parameters(netlists::parasitic_parameters(), text);
  list_parameters(devices::device_parameters(), text);
  list_parameters(devices::variation_parameters(), text);
  list_parameters(devices::adc_parameters(), text);
  list_parameters(corrections::correction_parameters(), text);
  list_parameters(mapping::mapping_parameters(), text);
  list_parameters(mapping::simulation_parameters(), text);
  list_parameters(output_parameters(), text);
  list_parameters(data_parameters(), text);
  out << text;
  return kExitOk;
}

}  // namespace xbarnet::cli
