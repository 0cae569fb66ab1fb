#include "core/status.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace xbarnet::core {

void assertion_failed(const char* condition, const char* message, const char* file, int line) {
  std::fprintf(stderr, "xbarnet: assertion failed: %s (%s) at %s:%d\n", condition, message, file,
               line);
  std::abort();
}

const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kFloatingNode:
      return "floating node";
    case StatusCode::kNotPositiveDefinite:
      return "not positive definite";
    case StatusCode::kSingular:
      return "singular matrix";
    case StatusCode::kBackendFailure:
      return "backend failure";
    case StatusCode::kNoConvergence:
      return "no convergence";
    case StatusCode::kFailedPrecondition:
      return "failed precondition";
  }
  return "unknown";
}

Status Status::no_convergence(std::string what, int iterations, double residual, double tolerance) {
  return {StatusCode::kNoConvergence,
          fmt::format("{}: stopped after {} iteration(s) with residual {:.3e} > tolerance {:.3e}",
                      what, iterations, residual, tolerance)};
}

bool is_solver_failure(StatusCode code) {
  return code == StatusCode::kFloatingNode || code == StatusCode::kNotPositiveDefinite ||
         code == StatusCode::kSingular || code == StatusCode::kBackendFailure ||
         code == StatusCode::kNoConvergence;
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(core::to_string(code_)) + ": " + message_;
}

}  // namespace xbarnet::core
