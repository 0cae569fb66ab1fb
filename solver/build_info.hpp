#pragma once

#include <string>

namespace xbarnet::solver {

// "Eigen 3.4.0, CHOLMOD 3.0.14, KLU 1.3.8, OpenMP 201511 (2 threads available)"
std::string build_info();

}  // namespace xbarnet::solver
