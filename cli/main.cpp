// The xbarnet program's entry point (cli/program.hpp does the work).
#include <unistd.h>

#include <iostream>

#include "cli/program.hpp"
#include "core/process.hpp"
#include "solver/blas_threads.hpp"

int main(int argc, char** argv) {
  // The BLAS runs on one thread; xbarnet parallelises over tiles and inputs itself
  // (solver/blas_threads.hpp).
  xbarnet::solver::set_blas_threads(1);
  // Freed blocks stay in the heap for the next tile (core/process.hpp).
  xbarnet::core::keep_freed_memory_for_reuse();
  return xbarnet::cli::run_program(argc, argv, std::cout, std::cerr, isatty(STDERR_FILENO) == 1);
}
