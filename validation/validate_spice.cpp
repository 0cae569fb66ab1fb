// xbarnet-validate-spice: random tiles, solved by xbarnet and by ngspice on xbarnet's export;
// the column currents must agree to the tolerance (default 1e-9 relative; measured: 3e-12). Exit 0
// when every case passes, 1 otherwise.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>

#include "solver/crossbar_system.hpp"
#include "validation/spice_check.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Cross-check xbarnet's column currents against ngspice on random tiles"};
  int cases = 20;
  Eigen::Index max_size = 64;
  Eigen::Index vectors = 2;
  std::uint64_t seed = 1;
  double tolerance = 1e-9;
  std::string dir = std::filesystem::temp_directory_path() / "xbarnet-validate-spice";
  std::string ngspice = "ngspice";
  app.add_option("--cases", cases, "number of random tiles")->capture_default_str();
  app.add_option("--max-size", max_size, "largest number of rows or columns")
      ->capture_default_str();
  app.add_option("--vectors", vectors, "input vectors per tile")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--tolerance", tolerance, "largest relative difference allowed")
      ->capture_default_str();
  app.add_option("--dir", dir, "where the netlists are written (kept)")->capture_default_str();
  app.add_option("--ngspice", ngspice, "the ngspice executable")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!xbarnet::validation::ngspice_available(ngspice)) {
    fmt::print(stderr, "validate-spice: '{}' not found on PATH (apt-get install ngspice)\n",
               ngspice);
    return 1;
  }
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  int failed = 0;
  double worst = 0.0;
  for (int n = 0; n < cases; ++n) {
    const auto tile = xbarnet::validation::random_tile(rng, max_size, vectors);
    const auto netlist = std::filesystem::path(dir) / fmt::format("case{}.cir", n);
    auto spice = xbarnet::validation::run_ngspice(tile.xbar, tile.inputs, netlist, ngspice);
    auto ours = xbarnet::solver::solve_crossbar(tile.xbar, tile.inputs);
    if (!spice.is_ok() || !ours.is_ok()) {
      fmt::print("case {:3} {}: FAILED to run: {}\n", n, tile.description,
                 spice.is_ok() ? ours.status().to_string() : spice.status().to_string());
      ++failed;
      continue;
    }
    const double diff = xbarnet::validation::max_relative_difference(
        ours.value().solution.column_current, spice.value());
    worst = std::max(worst, diff);
    const bool ok = diff <= tolerance;
    failed += ok ? 0 : 1;
    fmt::print("case {:3} {}: max relative difference {:.3e} {}\n", n, tile.description, diff,
               ok ? "ok" : "FAIL");
    if (!ok) {
      const Eigen::MatrixXd& mine = ours.value().solution.column_current;
      Eigen::Index k = 0, j = 0;
      (mine - spice.value()).cwiseAbs().maxCoeff(&k, &j);
      fmt::print("         worst: input {}, column {}: xbarnet {:.17g} A, ngspice {:.17g} A ({})\n",
                 k, j, mine(k, j), spice.value()(k, j), netlist.string());
    }
  }
  fmt::print("validate-spice: {} cases, worst relative difference {:.3e} (tolerance {:.1e})\n",
             cases, worst, tolerance);
  fmt::print("{} passed, {} failed\n", cases - failed, failed);
  return failed == 0 ? 0 : 1;
}
