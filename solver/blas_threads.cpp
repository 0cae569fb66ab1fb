#include "solver/blas_threads.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace xbarnet::solver {

namespace {

template <typename F>
F openblas_entry(const char* name) {
  // dlsym of a symbol the process may not have (reference BLAS, BLIS, MKL): then nullptr.
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

void set_blas_threads(int threads) {
  if (auto set = openblas_entry<void (*)(int)>("openblas_set_num_threads"); set != nullptr) {
    set(threads);
  }
}

int blas_threads() {
  auto get = openblas_entry<int (*)()>("openblas_get_num_threads");
  return get != nullptr ? get() : 0;
}

std::string blas_info() {
  auto get = openblas_entry<int (*)()>("openblas_get_num_threads");
  auto config = openblas_entry<char* (*)()>("openblas_get_config");
  if (get == nullptr) return "not OpenBLAS (no thread control)";
  const int n = get();
  return fmt::format("{}, {} thread{}", config != nullptr ? config() : "OpenBLAS", n,
                     n == 1 ? "" : "s");
}

}  // namespace xbarnet::solver
