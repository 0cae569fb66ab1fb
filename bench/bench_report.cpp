// xbarnet-bench: the figures of the solver issue, measured in one run.
//   * per square tile size: time per phase for one operating point and for a block of 256
//     inputs, nodes, unknowns, nnz(A), nnz(factor), peak resident memory;
//   * at the sizes given by --ngspice-sizes: ngspice -b on the exported netlist of the same tile,
//     and the ratio ngspice time / xbarnet time (assemble + analyze + factorize + one solve).
// Tiles: G uniform in [1/100k, 1/10k] S, inputs in [0, 0.2] V, r_source = r_neuron = 100 ohm,
// r_wordline = r_bitline = 2.5 ohm (full parasitics).
#include <fmt/format.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/process.hpp"
#include "core/random.hpp"
#include "mapping/simulate.hpp"
#include "netlists/spice.hpp"
#include "solver/blas_threads.hpp"
#include "solver/build_info.hpp"
#include "solver/crossbar_system.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using xbarnet::netlists::Crossbar;

using xbarnet::core::uniform;

Crossbar make_tile(Eigen::Index n, std::mt19937_64& rng) {
  Eigen::MatrixXd g(n, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) g(i, j) = uniform(rng, 1e-5, 1e-4);
  return Crossbar::uniform(std::move(g), 100.0, 2.5, 2.5, 100.0);
}

Eigen::MatrixXd make_inputs(Eigen::Index k, Eigen::Index n, std::mt19937_64& rng) {
  Eigen::MatrixXd v(k, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < k; ++i) v(i, j) = uniform(rng, 0.0, 0.2);
  return v;
}

double peak_rss_gib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB
}

// Wall time of `ngspice -b netlist`, or a negative value when it fails.
double time_ngspice(const std::string& netlist) {
  const std::string cmd = fmt::format("ngspice -b '{}' >'{}.out' 2>&1", netlist, netlist);
  const auto t0 = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double t = std::chrono::duration<double>(Clock::now() - t0).count();
  return rc == 0 ? t : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xbarnet solver benchmark: phase times, memory and the ratio against ngspice"};
  std::vector<Eigen::Index> sizes{64, 128, 256, 512, 1024};
  std::vector<Eigen::Index> spice_sizes{64, 128};
  Eigen::Index block = 256;
  std::string backend_name = "cholmod";
  std::string dir = (std::filesystem::temp_directory_path() / "xbarnet-bench").string();
  int threads = 1;
  bool orderings = false;
  bool transfer = false;
  bool layer = false;
  app.add_flag("--layer", layer,
               "time the layer target: 3x3 conv 64->64 on 32x32, batch 64, 256x256 arrays, full "
               "parasitics, against the same tiled layer on ideal crossbars");
  app.add_flag("--transfer", transfer,
               "also time the transfer matrix (Schur complement and R solves) per size");
  app.add_flag("--orderings", orderings,
               "also compare the nested-dissection ordering with the backend's own, per size");
  app.add_option("--sizes", sizes, "square tile sizes")->delimiter(',')->capture_default_str();
  app.add_option("--ngspice-sizes", spice_sizes, "sizes also run with ngspice (empty: none)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--block", block, "input vectors in the block solve")->capture_default_str();
  app.add_option("--backend", backend_name, "cholmod or klu")->capture_default_str();
  app.add_option("--threads", threads, "OpenMP threads")->capture_default_str();
  app.add_option("--dir", dir, "where netlists for ngspice are written")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  xbarnet::solver::set_blas_threads(1);  // as the program does (solver/blas_threads.hpp)
  xbarnet::core::keep_freed_memory_for_reuse();
  const auto parsed = xbarnet::solver::parse_backend(backend_name);
  if (!parsed.is_ok()) {
    fmt::print(stderr, "{}\n", parsed.status().message());
    return 2;
  }
  const xbarnet::solver::Backend backend = parsed.value();
  std::filesystem::create_directories(dir);
  fmt::print("xbarnet-bench: {}; backend {}; threads {}\n", xbarnet::solver::build_info(),
             backend_name, threads);
  fmt::print(
      "tile: G in [1e-5, 1e-4] S, r_source = r_neuron = 100 ohm, r_wordline = r_bitline = "
      "2.5 ohm\n\n");
  fmt::print("{:>5} {:>9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}\n",
             "size", "unknowns", "nnz(A)", "nnz(L)", "assemble", "analyze", "factor", "solve1",
             "total1", fmt::format("solve{}", block), fmt::format("per-input"), "peakGiB");
  std::mt19937_64 rng(42);
  struct Row {
    Eigen::Index n;
    double total1;
  };
  std::vector<Row> rows;
  for (Eigen::Index n : sizes) {
    const Crossbar x = make_tile(n, rng);
    const Eigen::MatrixXd v1 = make_inputs(1, n, rng);
    const Eigen::MatrixXd vk = make_inputs(block, n, rng);
    xbarnet::solver::SolveOptions opt;
    opt.threads = threads;

    const auto t0 = Clock::now();
    auto sys = xbarnet::solver::CrossbarSystem::assemble(x, {backend});
    if (!sys.is_ok()) {
      fmt::print(stderr, "{}\n", sys.status().to_string());
      return 1;
    }
    xbarnet::solver::CrossbarSystem& s = sys.value();
    if (auto st = s.analyze(); !st.is_ok()) return fmt::print(stderr, "{}\n", st.to_string()), 1;
    if (auto st = s.factorize(); !st.is_ok()) return fmt::print(stderr, "{}\n", st.to_string()), 1;
    auto one = s.solve(v1, opt);
    const double total1 = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!one.is_ok()) return fmt::print(stderr, "{}\n", one.status().to_string()), 1;
    const xbarnet::solver::PhaseTimes t = s.times();
    auto many = s.solve(vk, opt);
    if (!many.is_ok()) return fmt::print(stderr, "{}\n", many.status().to_string()), 1;
    const double t_block = s.times().solve;
    const auto& st = s.stats();
    fmt::print(
        "{:>5} {:>9} {:>10} {:>11} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.4f} {:>10.4f} "
        "{:>10.2e} {:>9.2f}\n",
        n, st.unknowns, st.factor.nnz_matrix, st.factor.nnz_factor, t.assemble, t.analyze,
        t.factorize, t.solve, total1, t_block, t_block / static_cast<double>(block),
        peak_rss_gib());
    std::fflush(stdout);
    rows.push_back({n, total1});
  }
  fmt::print(
      "\n(times in seconds; total1 = assemble + analyze + factorize + one solve; solve{} "
      "includes right-hand sides, currents and residuals; peakGiB = peak resident memory "
      "of this process so far)\n",
      block);

  if (orderings) {
    fmt::print("\n{:>5} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10}  {}\n", "size", "nnz(L) nd",
               "nnz(L) own", "analyze nd", "analyze own", "factor nd", "factor own", "own method");
    for (Eigen::Index n : sizes) {
      std::mt19937_64 r3(7 + static_cast<std::uint64_t>(n));
      const Crossbar x = make_tile(n, r3);
      struct Result {
        std::int64_t nnz;
        double analyze, factor;
        std::string method;
      };
      auto measure = [&](xbarnet::solver::Ordering ord) -> Result {
        auto sys = xbarnet::solver::CrossbarSystem::assemble(
            x, {backend, ord, xbarnet::solver::Mode::kDriven});
        if (!sys.is_ok() || !sys.value().analyze().is_ok() || !sys.value().factorize().is_ok()) {
          return {-1, 0, 0, "failed"};
        }
        const auto& s = sys.value();
        return {s.stats().factor.nnz_factor, s.times().analyze, s.times().factorize,
                s.stats().factor.method};
      };
      const Result nd = measure(xbarnet::solver::Ordering::kNestedDissection);
      const Result own = measure(xbarnet::solver::Ordering::kBackend);
      fmt::print("{:>5} {:>14} {:>14} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f}  {}\n", n, nd.nnz,
                 own.nnz, nd.analyze, own.analyze, nd.factor, own.factor, own.method);
      std::fflush(stdout);
    }
  }

  if (layer) {
    std::mt19937_64 r5(5);
    xbarnet::mapping::Tensor w, x;
    w.shape = {64, 64, 3, 3};
    w.data.resize(64 * 64 * 9);
    for (double& v : w.data) v = uniform(r5, -1.0, 1.0);
    x.shape = {64, 64, 32, 32};
    x.data.resize(64 * 64 * 32 * 32);
    for (double& v : x.data) v = uniform(r5, 0.0, 1.0);
    auto made = xbarnet::mapping::make_layer(xbarnet::mapping::LayerKind::kConv, w, {}, 1, 1,
                                             xbarnet::mapping::Activation::kNone, x);
    if (!made.is_ok()) return fmt::print(stderr, "{}\n", made.status().to_string()), 1;
    xbarnet::mapping::SimulationOptions o;
    o.mapping.array = {256, 256};
    o.device.r_lrs = 100e3;  // the default example's illustrative devices and parasitics
    o.device.r_hrs = 1e6;
    o.parasitics = {10.0, 2.5, 2.5, 10.0};
    o.threads = threads;
    o.backend = backend;
    auto run = [&](bool ideal, bool ir_drop) {
      o.ideal_only = ideal;
      o.ir_drop = ir_drop;
      const auto t0 = Clock::now();
      auto r = xbarnet::mapping::simulate(made.value(), x, o);
      const double t = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!r.is_ok()) fmt::print(stderr, "{}\n", r.status().to_string());
      return std::pair{t, r.is_ok() ? r.value().report : xbarnet::mapping::LayerReport{}};
    };
    const auto [t_ideal, rep_ideal] = run(true, false);
    const auto [t_sim, rep_sim] = run(false, true);
    const auto [t_sim_noir, rep_noir] = run(false, false);
    fmt::print(
        "\nlayer: {}, batch 64, {} tiles on 256x256 arrays, {} input vectors per tile, {} "
        "thread(s)\n",
        made.value().shape.describe(), rep_sim.plan.tiles.size(), rep_sim.input_vectors, threads);
    fmt::print("  ideal crossbars (tiled, no circuit):   {:8.3f} s\n", t_ideal);
    fmt::print(
        "  full parasitics, with IR-drop maps:    {:8.3f} s  ({:.2f}x ideal; circuit {:.3f} s, "
        "apply {:.3f} s)\n",
        t_sim, t_sim / t_ideal, rep_sim.seconds.circuit, rep_sim.seconds.apply);
    fmt::print("  full parasitics, without IR-drop maps: {:8.3f} s  ({:.2f}x ideal)\n", t_sim_noir,
               t_sim_noir / t_ideal);
    for (const auto* rep : {&rep_ideal, &rep_sim, &rep_noir}) {
      fmt::print(
          "    phases [s]: map {:.3f}, program {:.3f}, circuit {:.3f}, apply {:.3f} (summed over "
          "tiles), stitch {:.3f}; {} analyses\n",
          rep->seconds.map, rep->seconds.program, rep->seconds.circuit, rep->seconds.apply,
          rep->seconds.stitch, rep->analyses);
    }
    fmt::print("  relative rmse {:.4g}, worst IR drop {:.4g} of v_read\n",
               rep_sim.ideal_rms > 0 ? rep_sim.rmse / rep_sim.ideal_rms : 0.0,
               rep_sim.worst_ir_drop_fraction);
  }

  if (transfer) {
    fmt::print("\n{:>5} {:>12} {:>12} {:>12} {:>10} {:>10} {:>12}\n", "size", "op point s",
               "T schur s", "T solves s", "schur/op", "solves/op", "max|diff|/max|T|");
    for (Eigen::Index n : sizes) {
      std::mt19937_64 r4(11 + static_cast<std::uint64_t>(n));
      const Crossbar x = make_tile(n, r4);
      const Eigen::MatrixXd v1 = make_inputs(1, n, r4);
      xbarnet::solver::SolveOptions opt;
      opt.threads = threads;
      auto t0 = Clock::now();
      auto op = xbarnet::solver::solve_crossbar(x, v1, {backend}, opt);
      const double t_op = std::chrono::duration<double>(Clock::now() - t0).count();
      t0 = Clock::now();
      // T alone (the layer checks T against its own IR-drop solve), like for like with the
      // operating point; the one-solve health check is timed apart.
      auto schur = xbarnet::solver::transfer_matrix(x, backend, threads, false);
      const double t_schur = std::chrono::duration<double>(Clock::now() - t0).count();
      t0 = Clock::now();
      auto solves = xbarnet::solver::transfer_matrix_by_solves(x, backend, threads);
      const double t_solves = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!op.is_ok() || !schur.is_ok() || !solves.is_ok()) {
        fmt::print("{:>5} failed\n", n);
        continue;
      }
      const Eigen::MatrixXd& ts = schur.value().transfer.t;
      const Eigen::MatrixXd& tr = solves.value().transfer.t;
      const double diff = (ts - tr).cwiseAbs().maxCoeff() / tr.cwiseAbs().maxCoeff();
      fmt::print("{:>5} {:>12.4f} {:>12.4f} {:>12.4f} {:>9.2f}x {:>9.2f}x {:>12.2e}\n", n, t_op,
                 t_schur, t_solves, t_schur / t_op, t_solves / t_op, diff);
      std::fflush(stdout);
    }
  }

  if (!spice_sizes.empty())
    fmt::print("\n{:>5} {:>12} {:>12} {:>10}\n", "size", "ngspice s", "xbarnet s", "ratio");
  for (Eigen::Index n : spice_sizes) {
    std::mt19937_64 r2(1000 + static_cast<std::uint64_t>(n));
    const Crossbar x = make_tile(n, r2);
    const Eigen::MatrixXd v1 = make_inputs(1, n, r2);
    const std::string netlist = fmt::format("{}/tile{}.cir", dir, n);
    {
      std::ofstream f(netlist);
      if (auto st = xbarnet::netlists::write_spice(f, x, v1); !st.is_ok()) return 1;
    }
    xbarnet::solver::SolveOptions opt;
    opt.threads = threads;
    // Best of three for xbarnet (short runs are noisy); ngspice once (it is long).
    double best = 1e300;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      auto run = xbarnet::solver::solve_crossbar(x, v1, {backend}, opt);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
      if (!run.is_ok()) return 1;
    }
    const double t_spice = time_ngspice(netlist);
    if (t_spice < 0) {
      fmt::print("{:>5} ngspice failed (see {}.out)\n", n, netlist);
      continue;
    }
    fmt::print("{:>5} {:>12.3f} {:>12.5f} {:>9.0f}x\n", n, t_spice, best, t_spice / best);
    std::fflush(stdout);
  }
  return 0;
}
