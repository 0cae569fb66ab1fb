// xbarnet-bench: the figures of the solver issue, measured in one run.
//   * per square tile size: time per phase for one operating point and for a block of 256
//     inputs, nodes, unknowns, nnz(A), nnz(factor), peak resident memory;
//   * at the sizes given by --ngspice-sizes: ngspice -b on the exported netlist of the same tile,
//     and the ratio ngspice time / xbarnet time (assemble + analyze + factorize + one solve).
// Tiles: G uniform in [1/100k, 1/10k] S, inputs in [0, 0.2] V, r_source = r_neuron = 100 ohm,
// r_wordline = r_bitline = 2.5 ohm (full parasitics).
#include <fmt/format.h>
#include <sched.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cli/config.hpp"
#include "cli/dataset.hpp"
#include "cli/npy.hpp"
#include "core/process.hpp"
#include "core/random.hpp"
#include "mapping/simulate.hpp"
#include "netlists/spice.hpp"
#include "networks/crossbar_network.hpp"
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

// The machine the figures come from: the processor's model (with its family, model and stepping
// numbers, which tell apart virtual machines that all call themselves "Intel Xeon Processor"),
// the logical processors this process may run on, the widest vector unit and the memory (from
// /proc and the affinity mask; "unknown" for what cannot be read). The ratios depend on it: the
// same library measured the layer target at a median 1.31x on one machine of the project's kind
// and 1.50x on another (docs/performance.md).
std::string machine_info() {
  std::ifstream cpu("/proc/cpuinfo");
  std::string line, model = "unknown", family = "?", number = "?", stepping = "?";
  std::string vector = "unknown";
  while (std::getline(cpu, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    const auto key_end = line.find_last_not_of(" \t", colon - 1);
    if (key_end == std::string::npos) continue;
    const std::string key = line.substr(0, key_end + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string{};
    // Every processor repeats these; the first one's are kept.
    if (key == "model name" && model == "unknown") model = value;
    if (key == "cpu family" && family == "?") family = value;
    if (key == "model" && number == "?") number = value;
    if (key == "stepping" && stepping == "?") stepping = value;
    if (key == "flags" && vector == "unknown") {
      const std::string flags = " " + value + " ";
      vector = flags.find(" avx512f ") != std::string::npos ? "AVX-512"
               : flags.find(" avx2 ") != std::string::npos  ? "AVX2"
                                                            : "neither AVX2 nor AVX-512";
    }
  }
  std::string processors = "unknown";
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) processors = std::to_string(CPU_COUNT(&set));
#endif
  std::ifstream mem("/proc/meminfo");
  std::string memory = "unknown";
  while (std::getline(mem, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      const double kib = std::strtod(line.c_str() + 9, nullptr);
      if (kib > 0.0) memory = fmt::format("{:.1f} GiB", kib / (1024.0 * 1024.0));
      break;
    }
  }
  return fmt::format(
      "{} (family {}, model {}, stepping {}), {} logical processors for this process, vector "
      "unit {}, {} memory",
      model, family, number, stepping, processors, vector, memory);
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

// Wall time of a shell command, or a negative value when it fails.
double time_command(const std::string& cmd) {
  const auto t0 = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double t = std::chrono::duration<double>(Clock::now() - t0).count();
  return rc == 0 ? t : -1.0;
}

double best_of(int n, const std::string& cmd) {
  double best = 1e300;
  for (int i = 0; i < n; ++i) {
    const double t = time_command(cmd);
    if (t < 0.0) return t;
    best = std::min(best, t);
  }
  return best;
}

double max_rel_diff(const std::string& a, const std::string& b) {
  const Eigen::MatrixXd x = xbarnet::cli::npy_matrix(xbarnet::cli::read_npy(a), a, "currents");
  const Eigen::MatrixXd y = xbarnet::cli::npy_matrix(xbarnet::cli::read_npy(b), b, "currents");
  if (x.rows() != y.rows() || x.cols() != y.cols()) return -1.0;
  return (x - y).cwiseAbs().maxCoeff() / y.cwiseAbs().maxCoeff();
}

std::string ratio_text(double num, double den) {
  return num > 0.0 && den > 0.0 ? fmt::format("{:.1f}x", num / den) : std::string("n/a");
}

// A comma-separated list of tile sizes: empty means none; anything but positive integers is
// refused (CLI11 would read "" as a size 0).
bool parse_size_list(const std::string& flag, const std::string& text,
                     std::vector<Eigen::Index>& out) {
  out.clear();
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > (1LL << 20)) {
      fmt::print(stderr, "{}: '{}' is not a positive tile size (list: '{}')\n", flag, item, text);
      return false;
    }
    out.push_back(static_cast<Eigen::Index>(v));
    start = comma + 1;
  }
  return true;
}

}  // namespace

// The network target: images per second through a whole trained network with exact IR drop,
// after its one-time setup, against the same network on ideal crossbars; measured in this run,
// best of three alternating runs. Returns the ratio (-1 when it could not run).
double bench_network(const std::string& config, std::int64_t images, int threads) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  try {
    xbarnet::cli::NetworkConfig c = xbarnet::cli::load_network_config(config);
    c.options.threads = threads;
    const xbarnet::networks::DataSet test =
        xbarnet::cli::load_idx_dataset(c.data_dir, "t10k", images, c.network);
    const xbarnet::networks::DataSet cal =
        xbarnet::cli::load_idx_dataset(c.data_dir, "train", c.data.calibration_images, c.network);
    xbarnet::networks::NetworkOptions sim{c.options, c.data.batch};
    sim.simulation.ir_drop = false;  // the IR-drop maps are a report, not part of the network
    const xbarnet::networks::NetworkOptions ideal = xbarnet::networks::on_ideal_crossbars(sim);
    auto t0 = Clock::now();
    auto xs = xbarnet::networks::CrossbarNetwork::prepare(c.network, sim, cal.images);
    const double setup_sim = seconds(t0);
    t0 = Clock::now();
    auto xi = xbarnet::networks::CrossbarNetwork::prepare(c.network, ideal, cal.images);
    const double setup_ideal = seconds(t0);
    if (!xs.is_ok() || !xi.is_ok()) {
      fmt::print(stderr, "network: {}\n", (xs.is_ok() ? xi.status() : xs.status()).to_string());
      return -1.0;
    }
    double t_sim = 1e300, t_ideal = 1e300, acc_sim = 0.0, acc_ideal = 0.0;
    for (int rep = 0; rep < 3; ++rep) {
      auto es = xbarnet::networks::evaluate(xs.value(), test);
      auto ei = xbarnet::networks::evaluate(xi.value(), test);
      if (!es.is_ok() || !ei.is_ok()) return -1.0;
      t_sim = std::min(t_sim, es.value().seconds);
      t_ideal = std::min(t_ideal, ei.value().seconds);
      acc_sim = es.value().accuracy;
      acc_ideal = ei.value().accuracy;
    }
    const double n = static_cast<double>(test.images.dim(0));
    fmt::print(
        "\nnetwork '{}' ({}): {} test images in batches of {}, {} arrays ({} tiles), {} "
        "thread(s), best of 3 alternating runs\n",
        c.network.name, config, test.images.dim(0), c.data.batch, xs.value().arrays(),
        xs.value().tiles(), threads);
    fmt::print("  setup (program, solve every tile, calibrate): exact {:.3f} s, ideal {:.3f} s\n",
               setup_sim, setup_ideal);
    fmt::print("  ideal crossbars:  {:9.1f} images/s (accuracy {:.4f})\n", n / t_ideal, acc_ideal);
    fmt::print("  exact IR drop:    {:9.1f} images/s (accuracy {:.4f}): {:.2f}x the ideal time\n",
               n / t_sim, acc_sim, t_sim / t_ideal);
    return t_sim / t_ideal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "network: {}\n", e.what());
    return -1.0;
  }
}

int main(int argc, char** argv) {
  CLI::App app{"xbarnet solver benchmark: phase times, memory and the ratio against ngspice"};
  std::string sizes_text = "64,128,256,512,1024";
  std::string spice_sizes_text = "64,128";
  std::string process_sizes_text = "64,128,256";
  std::vector<Eigen::Index> sizes, spice_sizes, process_sizes;
  Eigen::Index block = 256;
  std::string backend_name = "cholmod";
  std::string dir = (std::filesystem::temp_directory_path() / "xbarnet-bench").string();
  int threads = 1;
  bool orderings = false;
  bool transfer = false;
  bool layer = false;
  std::string xbarnet_cli = XBARNET_CLI_PATH;
  std::string scipy_script = std::string(XBARNET_SOURCE_DIR) + "/validation/scipy_solve.py";
  std::string python = "/usr/bin/python3";  // where Debian's python3-scipy installs
  bool targets = false;
  std::string network;
  std::int64_t network_images = 2000;
  app.add_option("--network", network,
                 "time a network config end to end: images per second with exact IR drop "
                 "against ideal crossbars, after the setup (reported apart)");
  app.add_option("--network-images", network_images, "test images of the network run")
      ->capture_default_str();
  app.add_option("--process-sizes", process_sizes_text,
                 "sizes run as whole processes: xbarnet solve, the SciPy script and ngspice, "
                 "for 1 and --block inputs (empty: none)")
      ->capture_default_str();
  app.add_option("--xbarnet", xbarnet_cli, "the xbarnet program")->capture_default_str();
  app.add_option("--python", python, "the Python with NumPy and SciPy")->capture_default_str();
  app.add_flag("--targets", targets,
               "the targets of the tile-kernel issue, measured in this run: 256 x 256 with 256 "
               "inputs against SciPy, the factorization's speed and GFlop/s, T against one "
               "factorization, 128 x 128 against ngspice, and the layer (implies --layer)");
  app.add_flag("--layer", layer,
               "time the layer target: 3x3 conv 64->64 on 32x32, batch 64, 256x256 arrays, full "
               "parasitics, against the same tiled layer on ideal crossbars");
  app.add_flag("--transfer", transfer,
               "also time the transfer matrix (Schur complement and R solves) per size");
  app.add_flag("--orderings", orderings,
               "also compare the nested-dissection ordering with the backend's own, per size");
  app.add_option("--sizes", sizes_text, "square tile sizes (empty: none)")->capture_default_str();
  app.add_option("--ngspice-sizes", spice_sizes_text, "sizes also run with ngspice (empty: none)")
      ->capture_default_str();
  app.add_option("--block", block, "input vectors in the block solve")->capture_default_str();
  app.add_option("--backend", backend_name, "cholmod or klu")->capture_default_str();
  app.add_option("--threads", threads, "OpenMP threads")->capture_default_str();
  app.add_option("--dir", dir, "where netlists for ngspice are written")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!parse_size_list("--sizes", sizes_text, sizes) ||
      !parse_size_list("--ngspice-sizes", spice_sizes_text, spice_sizes) ||
      !parse_size_list("--process-sizes", process_sizes_text, process_sizes))
    return 2;
  xbarnet::solver::set_blas_threads(1);  // as the program does (solver/blas_threads.hpp)
  xbarnet::core::keep_freed_memory_for_reuse();
  if (targets) layer = true;
  const auto parsed = xbarnet::solver::parse_backend(backend_name);
  if (!parsed.is_ok()) {
    fmt::print(stderr, "{}\n", parsed.status().message());
    return 2;
  }
  const xbarnet::solver::Backend backend = parsed.value();
  std::filesystem::create_directories(dir);
  fmt::print("xbarnet-bench: {}; backend {}; threads {}\n", xbarnet::solver::build_info(),
             backend_name, threads);
  fmt::print("machine: {}\n", machine_info());
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

  double network_ratio = -1.0;
  if (!network.empty()) network_ratio = bench_network(network, network_images, threads);

  double layer_ratio = -1.0;
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
    // Best of five, the runs alternating, so that none of them profits alone from a warm heap
    // or cache. (Five, not three: on the shared 2-core machine single runs vary by 10-20 %, and
    // with three the ratio of the minima still moved by +-0.05 from one bench run to the next.)
    constexpr int kLayerRuns = 5;
    // The same layer read as a network reads its layers: prepared, then the batch without the
    // ideal reference (no second product, no error report), IR-drop maps included.
    auto run_prepared = [&]() {
      o.ideal_only = false;
      o.ir_drop = true;
      const auto t0 = Clock::now();
      auto p = xbarnet::mapping::prepare_layer(made.value(), o, x);
      if (!p.is_ok()) return fmt::print(stderr, "{}\n", p.status().to_string()), 1e300;
      auto r = xbarnet::mapping::run_layer(p.value(), x, false);
      if (!r.is_ok()) return fmt::print(stderr, "{}\n", r.status().to_string()), 1e300;
      return std::chrono::duration<double>(Clock::now() - t0).count();
    };
    double t_ideal = 1e300, t_sim = 1e300, t_sim_noir = 1e300, t_prepared = 1e300;
    // The ratio of each round's own pair of runs: how far single runs scatter on this machine
    // (from the second round on: the first also pays for the heap's and the caches' first use).
    double pair_low = 1e300, pair_high = 0.0;
    xbarnet::mapping::LayerReport rep_ideal, rep_sim, rep_noir;
    for (int rep = 0; rep < kLayerRuns; ++rep) {
      auto [ti, ri] = run(true, false);
      auto [ts, rs] = run(false, true);
      if (rep > 0) {
        pair_low = std::min(pair_low, ts / ti);
        pair_high = std::max(pair_high, ts / ti);
      }
      auto [tn, rn] = run(false, false);
      t_prepared = std::min(t_prepared, run_prepared());
      if (ti < t_ideal) t_ideal = ti, rep_ideal = std::move(ri);
      if (ts < t_sim) t_sim = ts, rep_sim = std::move(rs);
      if (tn < t_sim_noir) t_sim_noir = tn, rep_noir = std::move(rn);
    }
    layer_ratio = t_sim / t_ideal;
    fmt::print(
        "\nlayer: {}, batch 64, {} tiles on 256x256 arrays, {} input vectors per tile, {} "
        "thread(s), best of {} alternating runs\n",
        made.value().shape.describe(), rep_sim.plan.tiles.size(), rep_sim.input_vectors, threads,
        kLayerRuns);
    fmt::print("  ideal crossbars (tiled, no circuit):   {:8.3f} s\n", t_ideal);
    fmt::print(
        "  full parasitics, with IR-drop maps:    {:8.3f} s  ({:.2f}x ideal; circuit {:.3f} s, "
        "apply {:.3f} s; rounds 2-{}, each pair alone: {:.2f}x .. {:.2f}x)\n",
        t_sim, t_sim / t_ideal, rep_sim.seconds.circuit, rep_sim.seconds.apply, kLayerRuns,
        pair_low, pair_high);
    fmt::print("  full parasitics, without IR-drop maps: {:8.3f} s  ({:.2f}x ideal)\n", t_sim_noir,
               t_sim_noir / t_ideal);
    fmt::print(
        "  prepared, read without the ideal:      {:8.3f} s  ({:.2f}x ideal; full parasitics "
        "and IR-drop maps, as a network reads a layer)\n",
        t_prepared, t_prepared / t_ideal);
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

  // Whole processes on the same files: xbarnet solve, the SciPy user's code
  // (validation/scipy_solve.py: SuperLU, one factorization, every input through it) and ngspice.
  const bool have_scipy =
      std::system(fmt::format("{} -c 'import numpy, scipy' >/dev/null 2>&1", python).c_str()) == 0;
  struct ProcessRow {
    Eigen::Index n, k;
    double xbarnet, scipy, ngspice, agreement;
  };
  std::vector<ProcessRow> processes;
  if (!process_sizes.empty()) {
    fmt::print(
        "\nwhole processes (best of 3 for xbarnet; SciPy and ngspice once){}\n"
        "{:>5} {:>6} {:>11} {:>10} {:>9} {:>11} {:>10} {:>12}  {}\n",
        have_scipy ? "" : fmt::format("; no SciPy for {}: apt-get install python3-scipy", python),
        "size", "inputs", "xbarnet s", "SciPy s", "SciPy/x", "ngspice s", "ngspice/x",
        "|I-I_scipy|", "xbarnet path");
  }
  for (Eigen::Index n : process_sizes) {
    std::mt19937_64 r6(2000 + static_cast<std::uint64_t>(n));
    const Crossbar x = make_tile(n, r6);
    const std::string g = fmt::format("{}/G{}.npy", dir, n);
    xbarnet::cli::write_npy_matrix(g, x.conductance);
    for (Eigen::Index k : {Eigen::Index{1}, block}) {
      const Eigen::MatrixXd v = make_inputs(k, n, r6);
      const std::string vf = fmt::format("{}/V{}x{}.npy", dir, n, k);
      const std::string ix = fmt::format("{}/I{}x{}.npy", dir, n, k);
      const std::string is = fmt::format("{}/I{}x{}-scipy.npy", dir, n, k);
      const std::string report = fmt::format("{}/report{}x{}.json", dir, n, k);
      xbarnet::cli::write_npy_matrix(vf, v);
      const double tx = best_of(
          3, fmt::format("'{}' solve -g '{}' -v '{}' --r-source 100 --r-wordline 2.5 "
                         "--r-bitline 2.5 --r-neuron 100 --threads {} -o '{}' --report '{}' "
                         "--format none >/dev/null",
                         xbarnet_cli, g, vf, threads, ix, report));
      const double ts = have_scipy ? time_command(fmt::format("{} '{}' '{}' '{}' 100 2.5 2.5 100 "
                                                              "'{}' >/dev/null",
                                                              python, scipy_script, g, vf, is))
                                   : -1.0;
      double tn = -1.0;
      if (k == 1 && std::find(spice_sizes.begin(), spice_sizes.end(), n) != spice_sizes.end()) {
        const std::string netlist = fmt::format("{}/tile{}.cir", dir, n);
        {
          std::ofstream f(netlist);
          if (auto st = xbarnet::netlists::write_spice(f, x, v); !st.is_ok()) return 1;
        }
        tn = time_ngspice(netlist);
      }
      const double agree = ts > 0.0 && tx > 0.0 ? max_rel_diff(ix, is) : -1.0;
      std::string path = "?";
      if (std::ifstream rf(report); rf) {
        const nlohmann::json j = nlohmann::json::parse(rf, nullptr, false);
        if (j.is_object() && j.contains("path")) path = j["path"].get<std::string>();
      }
      fmt::print("{:>5} {:>6} {:>11.4f} {:>10} {:>9} {:>11} {:>10} {:>12}  {}\n", n, k, tx,
                 ts > 0.0 ? fmt::format("{:.3f}", ts) : "n/a", ratio_text(ts, tx),
                 tn > 0.0 ? fmt::format("{:.2f}", tn) : "-", ratio_text(tn, tx),
                 agree >= 0.0 ? fmt::format("{:.1e}", agree) : "n/a", path);
      std::fflush(stdout);
      processes.push_back({n, k, tx, ts, tn, agree});
    }
  }

  if (targets) {
    // The factorization of a 256 x 256 tile (driven), and T against it, in this process: best of
    // five of each, alternating, like for like (assemble + analyze + factorize, and the same plus
    // T's extraction in transfer mode, whose boundary makes the factor larger). Five, not three:
    // these are 0.09-0.10 s operations on a shared machine, and the ratio of the best of three
    // measured 1.12-1.18x over 8 series of one process and 1.15x and 1.23x in two bench runs.
    constexpr int kTargetRuns = 5;
    std::mt19937_64 r7(77);
    const Crossbar x = make_tile(256, r7);
    double t_fact = 1e300, t_fact_total = 1e300, t_transfer = 1e300, flops = 0.0;
    for (int rep = 0; rep < kTargetRuns; ++rep) {
      auto t0 = Clock::now();
      auto sys = xbarnet::solver::CrossbarSystem::assemble(x, {backend});
      if (!sys.is_ok() || !sys.value().analyze().is_ok() || !sys.value().factorize().is_ok()) {
        return 1;
      }
      t_fact_total =
          std::min(t_fact_total, std::chrono::duration<double>(Clock::now() - t0).count());
      t_fact = std::min(t_fact, sys.value().times().factorize);
      flops = sys.value().stats().factor.flops;
      t0 = Clock::now();
      auto t = xbarnet::solver::transfer_matrix(x, backend, threads, false);
      if (!t.is_ok()) return 1;
      t_transfer = std::min(t_transfer, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    auto find = [&](Eigen::Index n, Eigen::Index k) -> const ProcessRow* {
      for (const ProcessRow& p : processes)
        if (p.n == n && p.k == k) return &p;
      return nullptr;
    };
    constexpr double kIssueFactorize = 0.44;  // s, 256 x 256, the issue's measurement
    fmt::print("\ntargets (measured in this run, on the machine above; {} thread(s))\n", threads);
    if (const ProcessRow* p = find(256, block); p != nullptr) {
      fmt::print(
          "  solve 256x256, {} inputs, whole processes: xbarnet {:.3f} s, SciPy {} s: {} faster "
          "(target >= 5x)\n",
          block, p->xbarnet, p->scipy > 0 ? fmt::format("{:.3f}", p->scipy) : "n/a",
          ratio_text(p->scipy, p->xbarnet));
    }
    fmt::print(
        "  factorization 256x256 (best of {}): {:.4f} s, {:.3g} flops, {:.2f} GFlop/s; {} faster "
        "than the issue's 0.44 s (target >= 2x)\n",
        kTargetRuns, t_fact, flops, flops / t_fact / 1e9, ratio_text(kIssueFactorize, t_fact));
    fmt::print(
        "  transfer matrix 256x256 (best of {}): {:.4f} s against {:.4f} s for one factorization "
        "(assemble + analyze + factorize): {:.2f}x (target <= 1.2x)\n",
        kTargetRuns, t_transfer, t_fact_total, t_transfer / t_fact_total);
    if (const ProcessRow* p = find(128, 1); p != nullptr) {
      fmt::print(
          "  128x128, one input, whole processes: ngspice {} s, xbarnet {:.4f} s: {} faster "
          "(target >= 1000x)\n",
          p->ngspice > 0 ? fmt::format("{:.2f}", p->ngspice) : "n/a", p->xbarnet,
          ratio_text(p->ngspice, p->xbarnet));
    }
    fmt::print("  layer: {:.2f}x the ideal tiled layer (target <= 1.5x)\n", layer_ratio);
  }
  if (network_ratio > 0.0) {
    fmt::print(
        "  network: {:.2f}x the ideal network's time per image after setup (target <= "
        "1.5x)\n",
        network_ratio);
  }
  return 0;
}
