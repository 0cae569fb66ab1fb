#include "core/parameter.hpp"

#include <fmt/format.h>

namespace xbarnet::core {

std::string_view unit_or_one(std::string_view unit) { return unit.empty() ? "1" : unit; }

std::string parameter_table_markdown(std::span<const ParameterSpec> specs) {
  std::string out =
      "| parameter | option | unit | default | rule | description |\n"
      "|---|---|---|---|---|---|\n";
  for (const ParameterSpec& p : specs) {
    out += fmt::format("| `{}` | `{}` | {} | {:g} | {} | {} |\n", p.name, p.option,
                       unit_or_one(p.unit), p.default_value, p.rule, p.description);
  }
  return out;
}

}  // namespace xbarnet::core
