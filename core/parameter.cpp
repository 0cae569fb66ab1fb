#include "core/parameter.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace xbarnet::core {

bool Range::contains(double v) const {
  if (std::isnan(v)) return false;
  if (std::isinf(v)) return v > 0 && allow_infinity;
  const bool lo = min_inclusive ? v >= min : v > min;
  const bool hi = max_inclusive ? v <= max : v < max;
  return lo && hi;
}

std::string Range::describe(bool integer) const {
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  // Integer bounds as integers (2147483647, not 2.14748e+09).
  auto num = [&](double v) {
    return integer ? fmt::format("{}", static_cast<std::int64_t>(v)) : fmt::format("{:g}", v);
  };
  std::string body;
  if (has_min && has_max) {
    body = (min_inclusive && max_inclusive)
               ? fmt::format("in {} .. {}", num(min), num(max))
               : fmt::format("in {}{}, {}{}", min_inclusive ? "[" : "(", num(min), num(max),
                             max_inclusive ? "]" : ")");
  } else if (has_min) {
    body = fmt::format("{} {}", min_inclusive ? ">=" : ">", num(min));
  } else if (has_max) {
    body = fmt::format("{} {}", max_inclusive ? "<=" : "<", num(max));
  } else {
    return integer ? "" : (allow_infinity ? "not NaN" : "finite");
  }
  if (integer) return body;
  return allow_infinity ? body + " or +inf" : "finite and " + body;
}

std::string to_string(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{:g}", *d);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return fmt::format("{}", *i);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&v)) return fmt::format("'{}'", *s);
  return fmt::format("[{}]", fmt::join(std::get<std::vector<std::int64_t>>(v), ", "));
}

std::string option_name(std::string_view name) {
  std::string o = "--";
  for (char c : name) o += c == '_' ? '-' : c;
  return o;
}

}  // namespace xbarnet::core
