// Parsing enumerations from their names, with the error message generated from the values
// themselves (so the list of allowed names in a message can never drift from the code).
#pragma once

#include <fmt/format.h>

#include <array>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace xbarnet::core {

// `values` lists every enumerator; `to_string(E)` (found by argument-dependent lookup) names it.
template <typename E, std::size_t N>
StatusOr<E> parse_enum(std::string_view field, std::string_view text,
                       const std::array<E, N>& values) {
  std::string allowed;
  for (E v : values) {
    if (to_string(v) == text) return v;
    allowed += fmt::format("{}'{}'", allowed.empty() ? "" : ", ", to_string(v));
  }
  return Status::invalid_argument(
      fmt::format("{} = '{}': must be one of {}", field, text, allowed));
}

}  // namespace xbarnet::core
