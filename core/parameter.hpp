// Parameter declarations: every user-facing parameter is declared once, in the module that owns
// its struct, as an entry of a ParameterTable<S>: name, member, unit, rule, description. The
// default is the struct's own default member value. From that one declaration come:
//   * the validation (ParameterTable::validate, ::set), whose messages are generated from the
//     rule itself: "r_hrs = 5000 ohm: must be finite and > r_lrs";
//   * the config reader (cli/ converts TOML values and calls set());
//   * the JSON report (cli/ walks the table: key_unit = value);
//   * `--help` and docs/parameters.md (markdown(), tested whole against the file).
//
//   const ParameterTable<DeviceParams>& device_parameters() {
//     static const auto kTable = ParameterTable<DeviceParams>("device")
//         .real("r_lrs", &DeviceParams::r_lrs, "ohm", Range::positive(), "low-resistance state")
//         .choice("sign", &DeviceParams::sign, std::array{...}, "how signed weights are stored");
//     return kTable;
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace xbarnet::core {

// A closed or open interval, finite or not. The text of a rule is generated from it.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  bool min_inclusive = true;
  double max = std::numeric_limits<double>::infinity();
  bool max_inclusive = true;
  bool allow_infinity = false;  // +inf accepted (e.g. an open resistance); NaN never

  static Range at_least(double lo) { return {lo, true}; }
  static Range above(double lo) { return {lo, false}; }
  static Range between(double lo, double hi) { return {lo, true, hi, true}; }
  static Range half_open(double lo, double hi) { return {lo, true, hi, false}; }
  Range with_infinity() const {
    Range r = *this;
    r.allow_infinity = true;
    return r;
  }

  bool contains(double v) const;
  // "finite and > 0", "in 1 .. 16", ">= 0 or +inf", "in [0, 1)"; `integer` omits "finite".
  std::string describe(bool integer) const;
};

enum class ParameterKind { kReal, kInteger, kChoice, kBoolean, kText, kIntegerPair };

// A parameter's value as read from a file or an option.
using Value = std::variant<double, std::int64_t, bool, std::string, std::vector<std::int64_t>>;

std::string to_string(const Value& v);  // 2.5, 4, true, 'cholmod', [128, 128]

template <typename S>
struct Parameter {
  std::string name;
  std::string unit;  // SI symbol ("ohm", "S", "V", "A", "J", "s"), "bit", or "" for a number
  std::string description;
  ParameterKind kind = ParameterKind::kReal;
  Range range;                          // kReal, kInteger; kIntegerPair: the first element
  Range second_range;                   // kIntegerPair: the second element
  std::string first_name, second_name;  // kIntegerPair: what the two elements are
  std::vector<std::string> choices;     // kChoice
  std::string greater_than;             // kReal: must also exceed this (real) parameter of S
  std::string note;                     // appended to the rule text, e.g. "0 = ideal wire"
  std::function<Value(const S&)> get;
  std::function<void(S&, const Value&)> put;  // stores a value that passed check()

  // The rule as text: "must be finite and > 0", "must be one of 'a', 'b'".
  std::string rule() const;
  // The key of the JSON report: name_unit for SI units ("r_lrs_ohm", "v_read_V"), else name.
  std::string json_key() const;
};

template <typename S>
class ParameterTable {
 public:
  explicit ParameterTable(std::string table) : table_(std::move(table)) {}

  // Declarations (members of S; the default is S{}'s value).
  ParameterTable&& real(std::string name, double S::*member, std::string unit, Range range,
                        std::string description, std::string note = {},
                        std::string greater_than = {}) &&;
  template <typename I>
  ParameterTable&& integer(std::string name, I S::*member, std::string unit, Range range,
                           std::string description, std::string note = {}) &&;
  template <typename E, std::size_t N>
  ParameterTable&& choice(std::string name, E S::*member, const std::array<E, N>& values,
                          std::string description) &&;
  ParameterTable&& boolean(std::string name, bool S::*member, std::string description) &&;
  ParameterTable&& text(std::string name, std::string S::*member, std::string description) &&;
  // Two integers [first, second] held by `get` / `put`, e.g. [rows, cols].
  ParameterTable&& pair(std::string name, std::function<Value(const S&)> get,
                        std::function<void(S&, const Value&)> put, std::string unit,
                        std::string first_name, Range first, std::string second_name, Range second,
                        std::string description) &&;

  const std::string& table() const { return table_; }
  std::span<const Parameter<S>> parameters() const { return params_; }
  const Parameter<S>* find(std::string_view name) const;
  std::vector<std::string> names() const;

  // Checks `v` against the parameter's kind and rule (not the cross-field rules) and stores it.
  // "weight_bits = 40 bit: must be in 1 .. 16"; "sign = 'diff': must be one of ...".
  Status set(S& s, std::string_view name, const Value& v) const;
  // Checks every parameter of `s`, cross-field rules included.
  Status validate(const S& s) const;

 private:
  Status check(const Parameter<S>& p, const Value& v, const S* context) const;
  std::string table_;
  std::vector<Parameter<S>> params_;
};

// A Markdown table of the parameters: name, unit, default, rule, description; with `options`,
// an option column (--r-source for r_source).
template <typename S>
std::string markdown(const ParameterTable<S>& t, bool options = false);

// "--r-source" for "r_source".
std::string option_name(std::string_view name);

// The default of a parameter as text ("0", "differential", "[128, 128]").
template <typename S>
std::string default_text(const Parameter<S>& p) {
  return p.kind == ParameterKind::kChoice || p.kind == ParameterKind::kText
             ? std::get<std::string>(p.get(S{}))
             : to_string(p.get(S{}));
}

}  // namespace xbarnet::core

#include "core/parameter_inl.hpp"
