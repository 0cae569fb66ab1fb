// Status: the channel for numerical and validation outcomes (DESIGN.md, "three error channels").
// Programmer errors are assertions (core/assert.hpp); input files and configs throw at the
// boundary in cli/; everything else (bad values, singular circuits, floating nodes, iterations
// that do not converge) returns a Status whose message names the field, the index, the value and
// the rule, or the node and the numbers.
//
// StatusOr<T> holds a value or the Status that explains why there is none. Building it from an
// OK Status, or asking an error for its value, is a programmer error (asserted in Debug builds;
// value() on an error throws std::bad_optional_access in Release builds, never undefined).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "core/assert.hpp"

namespace xbarnet::core {

enum class StatusCode {
  kOk,
  kInvalidArgument,      // a value or shape breaks a documented rule
  kFloatingNode,         // part of the circuit has no DC path to a driven node
  kNotPositiveDefinite,  // the nodal matrix is not SPD (should not happen for passive cells)
  kSingular,             // the matrix is numerically singular
  kBackendFailure,       // the sparse library reported an error (memory, internal)
  kNoConvergence,        // an iteration stopped before its tolerance (iterations, residual)
  kFailedPrecondition,   // a programmer error seen in a Release build (verbs out of order)
};

const char* to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalid_argument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  // "Newton on tile 3: 50 iterations, residual 3.2e-07 > tolerance 1e-10" style messages: what
  // iterated, how many iterations it took and where its residual stopped.
  static Status no_convergence(std::string what, int iterations, double residual, double tolerance);

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: r_source[3] = -5 ohm: must be >= 0"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// True for the outcomes of a circuit solve (floating node, not positive definite, singular,
// backend failure, no convergence), as opposed to a bad argument or a failed precondition.
bool is_solver_failure(StatusCode code);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    XBARNET_ASSERT(!status_.is_ok(),
                   "StatusOr built from an OK Status holds neither a value "
                   "nor an error");
  }

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // On an error: an assertion in Debug builds, std::bad_optional_access in Release builds.
  T& value() & {
    XBARNET_ASSERT(is_ok(), "value() of a StatusOr that holds an error");
    return value_.value();
  }
  const T& value() const& {
    XBARNET_ASSERT(is_ok(), "value() of a StatusOr that holds an error");
    return value_.value();
  }
  T&& value() && {
    XBARNET_ASSERT(is_ok(), "value() of a StatusOr that holds an error");
    return std::move(value_.value());
  }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace xbarnet::core

namespace xbarnet {
// The status vocabulary is used by every folder; it is spelled without the core:: prefix.
using core::Status;
using core::StatusCode;
using core::StatusOr;
}  // namespace xbarnet
