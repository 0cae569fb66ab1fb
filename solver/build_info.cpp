#include "solver/build_info.hpp"

#include "solver/blas_threads.hpp"

#include <cholmod.h>
#include <fmt/format.h>
#include <klu.h>
#include <omp.h>

#include <Eigen/Core>

namespace xbarnet::solver {

std::string build_info() {
  return fmt::format(
      "Eigen {}.{}.{}, CHOLMOD {}.{}.{}, KLU {}.{}.{}, fmt {}, OpenMP {} ({} threads available), "
      "BLAS {}",
      EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, CHOLMOD_MAIN_VERSION,
      CHOLMOD_SUB_VERSION, CHOLMOD_SUBSUB_VERSION, KLU_MAIN_VERSION, KLU_SUB_VERSION,
      KLU_SUBSUB_VERSION, FMT_VERSION, _OPENMP, omp_get_max_threads(), blas_info());
}

}  // namespace xbarnet::solver
