// Google Benchmark suite for the unit-crossbar solver: each phase on its own, per tile size.
// Run: build/bench/xbarnet-gbench [--benchmark_filter=...] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <random>

#include "core/random.hpp"
#include "solver/crossbar_system.hpp"

namespace {

using xbarnet::netlists::Crossbar;
using xbarnet::solver::CrossbarSystem;

Crossbar tile(Eigen::Index n) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(n));
  Eigen::MatrixXd g(n, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) g(i, j) = xbarnet::core::uniform(rng, 1e-5, 1e-4);
  return Crossbar::uniform(std::move(g), 100.0, 2.5, 2.5, 100.0);
}

CrossbarSystem factorized(const Crossbar& x) {
  auto s = CrossbarSystem::assemble(x);
  if (!s.is_ok() || !s.value().analyze().is_ok() || !s.value().factorize().is_ok()) std::abort();
  return std::move(s).value();
}

void BM_Assemble(benchmark::State& state) {
  const Crossbar x = tile(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(CrossbarSystem::assemble(x).is_ok());
}

void BM_Analyze(benchmark::State& state) {
  const Crossbar x = tile(state.range(0));
  auto s = CrossbarSystem::assemble(x);
  for (auto _ : state) benchmark::DoNotOptimize(s.value().analyze().is_ok());
}

void BM_Factorize(benchmark::State& state) {
  CrossbarSystem s = factorized(tile(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(s.factorize().is_ok());
}

void BM_SolveBlock(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  CrossbarSystem s = factorized(tile(n));
  const Eigen::MatrixXd v = Eigen::MatrixXd::Constant(state.range(1), n, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(s.solve(v, {}).is_ok());
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// assemble + analyze + factorize + one solve: the "one operating point" figure.
void BM_OperatingPoint(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Crossbar x = tile(n);
  const Eigen::MatrixXd v = Eigen::MatrixXd::Constant(1, n, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(xbarnet::solver::solve_crossbar(x, v).is_ok());
}

BENCHMARK(BM_Assemble)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Analyze)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Factorize)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SolveBlock)
    ->Args({128, 1})
    ->Args({128, 256})
    ->Args({256, 1})
    ->Args({256, 256})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OperatingPoint)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
