// Parameter declarations: every user-facing parameter is declared once, with its unit and
// description, and `--help` and the documentation table are generated from the declaration.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace xbarnet::core {

struct ParameterSpec {
  std::string_view name;         // key as used in configs, e.g. "r_source"
  std::string_view option;       // command-line option, e.g. "--r-source"
  std::string_view unit;         // SI unit symbol: "ohm", "S", "V", "A", "J", "" for counts
  double default_value;          // in the unit above
  std::string_view rule;         // the validation rule, e.g. ">= 0, +inf = open"
  std::string_view description;  // one sentence
};

// A Markdown table of the given parameters (name, option, unit, default, rule, description).
std::string parameter_table_markdown(std::span<const ParameterSpec> specs);

// "ohm" -> "ohm", "" -> "1"; a readable unit for messages.
std::string_view unit_or_one(std::string_view unit);

}  // namespace xbarnet::core
