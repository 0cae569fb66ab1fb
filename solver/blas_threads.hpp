// The BLAS library's own threads.
//
// CHOLMOD's supernodal factorization and solve call the BLAS (dtrsm, dgemm, dsyrk) on blocks of
// a few to a few hundred rows. Debian's default BLAS is OpenBLAS with its own pthread pool,
// which on the 2-core machine gained nothing on these blocks (256 x 256 tiles: the same times;
// 1024 x 1024: 8 % on the factorization) while its idle threads spun in sched_yield and competed
// with xbarnet's own OpenMP threads over tiles and inputs. The program therefore runs the BLAS on
// one thread and parallelises itself (docs/performance.md). This is process-wide state of the
// BLAS library, so only the program (cli/main.cpp, bench/) sets it, once, at start.
#pragma once

#include <string>

namespace xbarnet::solver {

// Sets the BLAS library's thread count where it has one (OpenBLAS's openblas_set_num_threads,
// looked up at run time, since the BLAS behind libblas.so.3 is the system's choice).
void set_blas_threads(int threads);
// The BLAS library's thread count, or 0 when it has no thread control (not OpenBLAS).
int blas_threads();

// The BLAS in use and its thread count, for the run summary, e.g. "OpenBLAS 0.3.21 ...,
// 1 thread", or "not OpenBLAS (no thread control)".
std::string blas_info();

}  // namespace xbarnet::solver
