#include "cli/report.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/threads.hpp"
#include "solver/build_info.hpp"

namespace xbarnet::cli {

std::string describe_resistances(const Eigen::MatrixXd& values, const char* what) {
  if (values.size() == 0) return "none";
  const double lo = values.minCoeff();
  const double hi = values.maxCoeff();
  auto one = [](double v) {
    return std::isinf(v) ? std::string("open") : fmt::format("{:g} ohm", v);
  };
  if (lo == hi) return one(lo);
  return fmt::format("{}, {} .. {}", what, one(lo), one(hi));
}

namespace {

bool transfer_path(const RunInfo& info) {
  return info.run->path.path == solver::SolvePath::kTransfer;
}

double fill_ratio(const solver::SystemStats& s) {
  const double lower = static_cast<double>(s.factor.nnz_matrix + s.unknowns) / 2.0;
  return lower > 0.0 ? static_cast<double>(s.factor.nnz_factor) / lower : 0.0;
}

}  // namespace

std::string summary_text(const RunInfo& info) {
  const solver::SystemStats& s = info.run->stats;
  const solver::PhaseTimes& t = info.run->times;
  const netlists::Crossbar& x = info.tile->xbar;
  const double total = t.assemble + t.analyze + t.factorize + t.solve;
  std::string out;
  out += "xbarnet summary\n";
  const int used = core::capped_threads(info.options.threads);
  out += fmt::format(
      "  build        {}; threads used: {}\n", solver::build_info(),
      used == info.options.threads
          ? fmt::format("{}", used)
          : fmt::format("{} (asked {}, capped at the hardware's)", used, info.options.threads));
  out += fmt::format("  tile         {}\n", info.tile->origin);
  out += fmt::format("  crossbar     {} rows x {} columns, {} input vector(s)\n", s.rows, s.cols,
                     info.tile->inputs.rows());
  out += fmt::format("  parasitics   r_source {}; r_wordline {}; r_bitline {}; r_neuron {}\n",
                     describe_resistances(x.r_source, "per row"),
                     describe_resistances(x.r_wordline, "per segment"),
                     describe_resistances(x.r_bitline, "per segment"),
                     describe_resistances(x.r_neuron, "per column"));
  out += fmt::format("  circuit      {} nodes -> {} unknowns ({} 0-ohm elements merged, {} open)\n",
                     s.circuit_nodes, s.unknowns, s.shorts, s.opens);
  if (s.tiny_shorts > 0) {
    out += fmt::format(
        "  merged       {} resistance(s) too small to tell from a short (conductance above {:g} "
        "times the largest cell's) merged as exact shorts; give them as 0 to silence this\n",
        s.tiny_shorts, solver::kShortRatio);
  }
  // KLU does not count its flops (it reports -1).
  out += fmt::format("  matrix       nnz(A) {}, nnz(factor) {}, fill {:.2f}x, {} flops\n",
                     s.factor.nnz_matrix, s.factor.nnz_factor, fill_ratio(s),
                     s.factor.flops >= 0.0 ? fmt::format("{:.3g}", s.factor.flops) : "n/a");
  out += fmt::format("  backend      {} ({})\n", solver::to_string(info.system.backend),
                     s.factor.method);
  out += fmt::format("  path         {}\n", info.run->path.reason);
  out += fmt::format(
      "  time [s]     assemble {:.4f}, analyze {:.4f}, factorize {:.4f}, solve {:.4f}, total "
      "{:.4f}\n",
      t.assemble, t.analyze, t.factorize, t.solve, total);
  out += fmt::format(
      "  residual     {:.3e} (max over {} of ||Ax-b|| / (||A|| ||x|| + ||b||), inf-norms)\n",
      info.run->solution.relative_residual,
      transfer_path(info) ? fmt::format("the {} inputs solved directly", info.run->checked_inputs)
                          : std::string("inputs"));
  out += fmt::format(
      "  accuracy     error bound {:.3e} = residual x condition estimate {:.3e} (limit {:g})\n",
      info.run->solution.error_bound, info.run->solution.condition_estimate,
      solver::kAccuracyTolerance);
  if (transfer_path(info)) {
    out += fmt::format(
        "  stopped      transfer path complete: 1 factorization, T ({} x {}), {} input(s) "
        "through T, {} of them also solved directly: max |T v - I(v)| / max sum |T v| = {:.3e} "
        "(limit {:g})\n",
        s.cols, s.rows, info.tile->inputs.rows(), info.run->checked_inputs,
        info.run->transfer_check, solver::kTransferCheckTolerance);
  } else {
    out += fmt::format(
        "  stopped      direct solve complete: 1 factorization, {} right-hand side(s)\n",
        info.tile->inputs.rows());
  }
  if (!info.run->voltage_inputs.empty()) {
    std::string listed;
    for (size_t q = 0; q < info.run->voltage_inputs.size(); ++q) {
      listed += fmt::format("{}{}", q == 0 ? "" : ", ", info.run->voltage_inputs[q]);
    }
    out += fmt::format("  voltages     node voltages of input(s) {} (solved directly once more)\n",
                       listed);
  }
  return out;
}

nlohmann::json summary_json(const RunInfo& info) {
  const solver::SystemStats& s = info.run->stats;
  const solver::PhaseTimes& t = info.run->times;
  nlohmann::json j;
  j["build"] = solver::build_info();
  j["threads"] = core::capped_threads(info.options.threads);
  j["threads_asked"] = info.options.threads;
  j["tile"] = info.tile->origin;
  j["rows"] = s.rows;
  j["cols"] = s.cols;
  j["input_vectors"] = info.tile->inputs.rows();
  j["circuit_nodes"] = s.circuit_nodes;
  j["unknowns"] = s.unknowns;
  j["shorts_merged"] = s.shorts;
  j["tiny_resistances_merged"] = s.tiny_shorts;
  j["opens"] = s.opens;
  j["nnz_matrix"] = s.factor.nnz_matrix;
  j["nnz_factor"] = s.factor.nnz_factor;
  j["fill"] = fill_ratio(s);
  j["flops"] = s.factor.flops >= 0.0 ? nlohmann::json(s.factor.flops) : nlohmann::json(nullptr);
  j["backend"] = std::string(solver::to_string(info.system.backend));
  j["method"] = s.factor.method;
  j["time_s"] = {{"assemble", t.assemble},
                 {"analyze", t.analyze},
                 {"factorize", t.factorize},
                 {"solve", t.solve}};
  j["relative_residual"] = info.run->solution.relative_residual;
  j["condition_estimate"] = info.run->solution.condition_estimate;
  j["error_bound"] = info.run->solution.error_bound;
  j["voltage_inputs"] = info.run->voltage_inputs;
  j["path"] = std::string(solver::to_string(info.run->path.path));
  j["path_reason"] = info.run->path.reason;
  j["path_cost_flops"] = {{"direct", info.run->path.direct_flops},
                          {"transfer", info.run->path.transfer_flops}};
  if (transfer_path(info)) {
    j["checked_inputs"] = info.run->checked_inputs;
    j["transfer_check"] = info.run->transfer_check;
    j["stopped"] = "transfer path complete";
  } else {
    j["stopped"] = "direct solve complete";
  }
  return j;
}

std::string currents_table(const Eigen::MatrixXd& current, Eigen::Index max_columns) {
  std::string out = fmt::format("{:>8}", "column");
  for (Eigen::Index k = 0; k < current.rows(); ++k)
    out += fmt::format("  {:>18}", fmt::format("I[{}] (A)", k));
  out += "\n";
  const Eigen::Index shown = std::min(current.cols(), max_columns);
  for (Eigen::Index j = 0; j < shown; ++j) {
    out += fmt::format("{:>8}", j);
    for (Eigen::Index k = 0; k < current.rows(); ++k)
      out += fmt::format("  {:>18.10e}", current(k, j));
    out += "\n";
  }
  if (shown < current.cols()) {
    out += fmt::format("  ({} of {} columns shown; --output FILE.npy writes all of them)\n", shown,
                       current.cols());
  }
  return out;
}

}  // namespace xbarnet::cli
