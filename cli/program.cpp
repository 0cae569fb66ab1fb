// The xbarnet program: parses the command line and runs a command (main.cpp calls it; tests
// call it with their own argument lists and streams). Only cli/ prints or chooses exit codes;
// the library never does. Every exception ends here, as a message and a documented exit code.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <new>
#include <ostream>
#include <string>

#include "cli/commands.hpp"
#include "cli/layer_commands.hpp"
#include "cli/network_command.hpp"
#include "cli/npy.hpp"
#include "cli/program.hpp"
#include "cli/sweep.hpp"
#include "netlists/crossbar.hpp"

namespace xbarnet::cli {

namespace {

// The option's help from the parameter's declaration (netlists/crossbar.cpp).
std::string parameter_help(std::string_view name) {
  const auto* p = netlists::parasitic_parameters().find(name);
  if (p == nullptr) return std::string(name);
  return fmt::format("{} [{}; default {}; {}]. A number, 'open', or a .npy file", p->description,
                     p->unit, core::default_text(*p), p->rule());
}

void add_tile_options(CLI::App* cmd, TileArgs& t) {
  cmd->add_option("--conductance,-g", t.conductance, "cell conductances G, an R x C .npy file [S]");
  cmd->add_option("--input,-v", t.input,
                  "word-line input voltages, a .npy file of R values or a K x R block [V]");
  cmd->add_option("--r-source", t.r_source, parameter_help("r_source") + " of R values");
  cmd->add_option("--r-wordline", t.r_wordline,
                  parameter_help("r_wordline") + " of R x (C-1) segments");
  cmd->add_option("--r-bitline", t.r_bitline,
                  parameter_help("r_bitline") + " of (R-1) x C segments");
  cmd->add_option("--r-neuron", t.r_neuron, parameter_help("r_neuron") + " of C values");
  cmd->add_flag("--example", t.example,
                "use the built-in 128 x 128 example tile instead of --conductance/--input");
}

}  // namespace

int run_program(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                bool progress_on_terminal) {
  CLI::App app{
      "xbarnet: circuit-level simulator of memristor crossbars with source, line and neuron "
      "resistance. SI units everywhere (ohm, S, V, A)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "xbarnet 0.1.0");

  SolveArgs solve;
  CLI::App* solve_cmd =
      app.add_subcommand("solve", "solve one unit crossbar for one or more input vectors");
  add_tile_options(solve_cmd, solve.tile);
  solve_cmd->add_option("--output,-o", solve.output,
                        "write the column currents to a .npy file: C values, or K x C [A]");
  solve_cmd->add_option("--voltages", solve.voltages,
                        "write node voltages to a .npy file of shape K x 4 x R x C [V]: word "
                        "line, bit line, voltage across the cell, IR drop (input minus cell)");
  solve_cmd
      ->add_option("--voltage-inputs", solve.voltage_inputs,
                   "write the node voltages of these input vectors only (0-based, comma "
                   "separated; the file is then L x 4 x R x C): the currents of every input may "
                   "then take the transfer path, and only these are solved directly")
      ->delimiter(',');
  solve_cmd->add_option("--report", solve.report, "write the summary and currents as JSON");
  solve_cmd
      ->add_option("--format", solve.format,
                   "what goes to standard output: table (currents and summary), json, none")
      ->capture_default_str();
  solve_cmd->add_option("--backend", solve.backend, "linear solver: cholmod, klu or dense")
      ->capture_default_str();
  solve_cmd
      ->add_option("--path", solve.path,
                   "how the currents of many inputs are found: auto (the cheaper by the cost "
                   "model), direct (every input through the factor), transfer (T once, I = V T^T, "
                   "3 inputs checked by direct solves)")
      ->capture_default_str();
  solve_cmd
      ->add_option("--ordering", solve.ordering,
                   "fill-reducing ordering: nd (nested dissection of the cell grid) or backend "
                   "(the backend's own, e.g. CHOLMOD's AMD/METIS)")
      ->capture_default_str();
  solve_cmd
      ->add_option("--memory-limit", solve.memory_limit,
                   "largest memory the solve may need [B], estimated from the sizes before "
                   "anything is allocated; 0 = half of the machine's physical memory")
      ->capture_default_str();
  solve_cmd->add_option("--threads", solve.threads, "OpenMP threads for the loops over inputs")
      ->capture_default_str();

  SimulateArgs sim;
  CLI::App* sim_cmd = app.add_subcommand(
      "simulate", "map a layer onto unit crossbars, solve every tile, stitch the activations");
  sim_cmd->add_option("config", sim.config, "the layer configuration (TOML, docs/config.md)")
      ->required();
  sim_cmd->add_option("--output-dir,-o", sim.output_dir, "where the results go ([output] dir)");
  sim_cmd->add_option("--threads", sim.threads, "OpenMP threads over tiles ([simulation] threads)");

  CompareArgs cmp;
  CLI::App* cmp_cmd = app.add_subcommand(
      "compare", "simulate the layer(s) on several square array sizes, side by side");
  cmp_cmd->add_option("config", cmp.config, "the layer configuration (TOML)")->required();
  cmp_cmd->add_option("--arrays", cmp.arrays, "array sizes, e.g. 128,256")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->required();
  cmp_cmd->add_option("--output-dir,-o", cmp.output_dir, "where the results go ([output] dir)");
  cmp_cmd->add_option("--threads", cmp.threads, "OpenMP threads over tiles");

  SweepArgs sweep;
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep", "simulate one layer over a grid of one or two parameters: table, JSON and plot");
  sweep_cmd->add_option("config", sweep.config, "the layer configuration (TOML)")->required();
  sweep_cmd
      ->add_option("--vary", sweep.vary,
                   "table.key=v1,v2,... (once or twice), e.g. parasitics.r_wordline=0.5,1,2 or "
                   "correction.scheme=none,exact_compensation")
      ->required()
      ->allow_extra_args(false);
  sweep_cmd->add_option("--layer", sweep.layer, "layer name or index (default: the first)");
  sweep_cmd->add_option("--output-dir,-o", sweep.output_dir, "where the results go ([output] dir)");
  sweep_cmd->add_option("--threads", sweep.threads, "OpenMP threads over tiles");

  NetworkArgs net;
  bool no_ideal = false;
  CLI::App* net_cmd = app.add_subcommand(
      "network",
      "a trained network on its data set, every layer on crossbars: recognition rates (float, "
      "ideal crossbars, simulated), arrays, ADC energy; over one or two parameters with --vary");
  net_cmd->add_option("config", net.config, "the network configuration (TOML)")->required();
  net_cmd
      ->add_option("--vary", net.vary,
                   "table.key=v1,v2,... (at most twice), e.g. parasitics.r_wordline=0.5,1,2 or "
                   "mapping.array=128,256")
      ->allow_extra_args(false);
  net_cmd
      ->add_option("--set", net.set,
                   "table.key=value over the config (repeatable), e.g. data.images=1000 or "
                   "device.adc_bits=6")
      ->allow_extra_args(false);
  net_cmd->add_flag("--no-ideal", no_ideal, "skip the same mapping on ideal crossbars");
  net_cmd->add_option("--output-dir,-o", net.output_dir, "where the results go ([output] dir)");
  net_cmd->add_option("--threads", net.threads, "OpenMP threads over tiles");

  MapArgs map;
  CLI::App* map_cmd =
      app.add_subcommand("map", "report the mapping and array counts only (no simulation)");
  map_cmd->add_option("config", map.config, "the layer configuration (TOML)")->required();
  map_cmd->add_option("--arrays", map.arrays, "square array sizes (default: [mapping] array)")
      ->delimiter(',')
      ->allow_extra_args(false);
  map_cmd->add_option("--report", map.report, "write the counts as JSON");

  ExportArgs exp;
  ExportTileArgs exp_tile;
  bool plain_op = false;
  CLI::App* export_cmd = app.add_subcommand(
      "export-spice", "write the tile and its input vector(s) as an ngspice netlist");
  add_tile_options(export_cmd, exp.tile);
  export_cmd->add_option("--output,-o", exp.output, "the netlist file to write (.cir)");
  export_cmd->add_option(
      "--config", exp_tile.config,
      "export a tile of a mapped layer instead (with --layer, --tile, --vector)");
  export_cmd->add_option("--layer", exp_tile.layer, "layer name or index (default: the first)");
  export_cmd->add_option("--tile", exp_tile.tile, "tile index of the mapped layer")
      ->capture_default_str();
  export_cmd->add_option("--vector", exp_tile.vector, "input vector (position) of the batch")
      ->capture_default_str();
  export_cmd->add_flag("--plain-op", plain_op,
                       "write a plain .op deck without the .control block (first input only)");

  bool markdown = false;
  CLI::App* params_cmd =
      app.add_subcommand("params", "list the circuit parameters with their units");
  params_cmd->add_flag("--markdown", markdown, "print the table of docs/parameters.md");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are CLI11's "errors" with code 0; every other parse error is bad
    // input (CLI11's own codes, 100 and up, are mapped to the documented one).
    return app.exit(e, out, err) == 0 ? kExitOk : kExitInputError;
  }
  try {
    if (solve_cmd->parsed()) return run_solve(solve, out, err);
    if (sim_cmd->parsed()) return run_simulate(sim, out, err);
    if (cmp_cmd->parsed()) return run_compare(cmp, out, err);
    if (map_cmd->parsed()) return run_map(map, out, err);
    if (sweep_cmd->parsed()) return run_sweep(sweep, out, err);
    if (net_cmd->parsed()) {
      net.ideal = !no_ideal;
      net.progress = progress_on_terminal;
      return run_network(net, out, err);
    }
    if (export_cmd->parsed()) {
      if (!exp_tile.config.empty()) {
        exp_tile.output = exp.output;
        return run_export_tile(exp_tile, out, err);
      }
      exp.control_block = !plain_op;
      return run_export_spice(exp, out, err);
    }
    if (params_cmd->parsed()) return run_params(markdown, out);
  } catch (const InputError& e) {
    err << "xbarnet: error: " << e.what() << "\n";
    return kExitInputError;
  } catch (const SolveError& e) {
    err << "xbarnet: cannot solve: " << e.what() << "\n";
    return kExitSolveError;
  } catch (const std::filesystem::filesystem_error& e) {
    err << "xbarnet: error: " << e.what() << "\n";
    return kExitInputError;
  } catch (const std::bad_alloc&) {
    err << "xbarnet: out of memory: the run needs more memory than the machine gives it; use "
           "smaller arrays, fewer input vectors or fewer threads\n";
    return kExitResource;
  } catch (const std::exception& e) {
    err << "xbarnet: internal error (please report it): " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitOk;
}

}  // namespace xbarnet::cli
