// Status: the channel for numerical and validation outcomes (DESIGN.md, "three error channels").
// Programmer errors are assertions; input files and configs throw at the boundary in cli/;
// everything else (bad values, singular circuits, floating nodes) returns a Status whose message
// names the field, the index, the value and the rule.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace xbarnet {

enum class StatusCode {
  kOk,
  kInvalidArgument,      // a value or shape breaks a documented rule
  kFloatingNode,         // part of the circuit has no DC path to a driven node
  kNotPositiveDefinite,  // the nodal matrix is not SPD (should not happen for passive cells)
  kSingular,             // the matrix is numerically singular
  kBackendFailure,       // the sparse library reported an error (memory, internal)
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

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace xbarnet
