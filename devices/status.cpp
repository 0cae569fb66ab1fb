#include "devices/status.hpp"

namespace xbarnet {

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
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(xbarnet::to_string(code_)) + ": " + message_;
}

}  // namespace xbarnet
