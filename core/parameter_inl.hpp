#pragma once
// Template definitions of core/parameter.hpp.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace xbarnet::core {

template <typename S>
std::string Parameter<S>::rule() const {
  std::string r;
  switch (kind) {
    case ParameterKind::kReal:
      r = "must be " + range.describe(false);
      if (!greater_than.empty()) r += " and > " + greater_than;
      break;
    case ParameterKind::kInteger: {
      const std::string bounds = range.describe(true);
      r = bounds.empty() ? "must be an integer" : "must be an integer " + bounds;
      break;
    }
    case ParameterKind::kIntegerPair:
      r = fmt::format("must be [{0}, {1}] with {0} {2} and {1} {3}", first_name, second_name,
                      range.describe(true), second_range.describe(true));
      break;
    case ParameterKind::kChoice: {
      std::string list;
      for (const std::string& c : choices)
        list += fmt::format("{}'{}'", list.empty() ? "" : ", ", c);
      r = "must be one of " + list;
      break;
    }
    case ParameterKind::kBoolean:
      r = "must be true or false";
      break;
    case ParameterKind::kText:
      r = "must be a string";
      break;
  }
  if (!note.empty()) r += " (" + note + ")";
  return r;
}

template <typename S>
std::string Parameter<S>::json_key() const {
  for (const char* si : {"ohm", "S", "V", "A", "J", "s"}) {
    if (unit == si) return name + "_" + unit;
  }
  return name;
}

namespace detail {

template <typename S>
Parameter<S> declare(std::string name, std::string unit, std::string description,
                     ParameterKind kind) {
  Parameter<S> p;
  p.name = std::move(name);
  p.unit = std::move(unit);
  p.description = std::move(description);
  p.kind = kind;
  return p;
}

}  // namespace detail

template <typename S>
ParameterTable<S>&& ParameterTable<S>::real(std::string name, double S::*member, std::string unit,
                                            Range range, std::string description, std::string note,
                                            std::string greater_than) && {
  Parameter<S> p = detail::declare<S>(std::move(name), std::move(unit), std::move(description),
                                      ParameterKind::kReal);
  p.range = range;
  p.note = std::move(note);
  p.greater_than = std::move(greater_than);
  p.get = [member](const S& s) { return Value(s.*member); };
  p.put = [member](S& s, const Value& v) { s.*member = std::get<double>(v); };
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
template <typename I>
ParameterTable<S>&& ParameterTable<S>::integer(std::string name, I S::*member, std::string unit,
                                               Range range, std::string description,
                                               std::string note) && {
  Parameter<S> p = detail::declare<S>(std::move(name), std::move(unit), std::move(description),
                                      ParameterKind::kInteger);
  // Never more than the member can hold: a value is checked before it is narrowed.
  p.range = range;
  p.range.min = std::max(p.range.min, static_cast<double>(std::numeric_limits<I>::min()));
  // (A 64-bit member: 2^53, the largest integer a double holds exactly, since values are
  // checked as doubles; its true maximum 2^63 - 1 has no double of its own.)
  constexpr double kExact = 9007199254740992.0;
  p.range.min = std::max(p.range.min, -kExact);
  p.range.max = std::min({p.range.max, static_cast<double>(std::numeric_limits<I>::max()), kExact});
  p.note = std::move(note);
  p.get = [member](const S& s) { return Value(static_cast<std::int64_t>(s.*member)); };
  p.put = [member](S& s, const Value& v) { s.*member = static_cast<I>(std::get<std::int64_t>(v)); };
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
template <typename E, std::size_t N>
ParameterTable<S>&& ParameterTable<S>::choice(std::string name, E S::*member,
                                              const std::array<E, N>& values,
                                              std::string description) && {
  Parameter<S> p =
      detail::declare<S>(std::move(name), "", std::move(description), ParameterKind::kChoice);
  for (E e : values) p.choices.emplace_back(to_string(e));
  p.get = [member](const S& s) { return Value(std::string(to_string(s.*member))); };
  p.put = [member, values](S& s, const Value& v) {
    for (E e : values) {
      if (to_string(e) == std::get<std::string>(v)) s.*member = e;
    }
  };
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
ParameterTable<S>&& ParameterTable<S>::boolean(std::string name, bool S::*member,
                                               std::string description) && {
  Parameter<S> p =
      detail::declare<S>(std::move(name), "", std::move(description), ParameterKind::kBoolean);
  p.get = [member](const S& s) { return Value(s.*member); };
  p.put = [member](S& s, const Value& v) { s.*member = std::get<bool>(v); };
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
ParameterTable<S>&& ParameterTable<S>::text(std::string name, std::string S::*member,
                                            std::string description) && {
  Parameter<S> p =
      detail::declare<S>(std::move(name), "", std::move(description), ParameterKind::kText);
  p.get = [member](const S& s) { return Value(s.*member); };
  p.put = [member](S& s, const Value& v) { s.*member = std::get<std::string>(v); };
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
ParameterTable<S>&& ParameterTable<S>::pair(std::string name, std::function<Value(const S&)> get,
                                            std::function<void(S&, const Value&)> put,
                                            std::string unit, std::string first_name, Range first,
                                            std::string second_name, Range second,
                                            std::string description) && {
  Parameter<S> p = detail::declare<S>(std::move(name), std::move(unit), std::move(description),
                                      ParameterKind::kIntegerPair);
  p.range = first;
  p.second_range = second;
  p.first_name = std::move(first_name);
  p.second_name = std::move(second_name);
  p.get = std::move(get);
  p.put = std::move(put);
  params_.push_back(std::move(p));
  return std::move(*this);
}

template <typename S>
const Parameter<S>* ParameterTable<S>::find(std::string_view name) const {
  for (const Parameter<S>& p : params_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

template <typename S>
std::vector<std::string> ParameterTable<S>::names() const {
  std::vector<std::string> out;
  for (const Parameter<S>& p : params_) out.push_back(p.name);
  return out;
}

template <typename S>
Status ParameterTable<S>::check(const Parameter<S>& p, const Value& v, const S* context) const {
  auto bad = [&](const std::string& rule) {
    const std::string unit = p.unit.empty() ? "" : " " + p.unit;
    return Status::invalid_argument(fmt::format("{} = {}{}: {}", p.name, to_string(v), unit, rule));
  };
  switch (p.kind) {
    case ParameterKind::kReal: {
      double x = 0.0;
      if (const auto* d = std::get_if<double>(&v)) {
        x = *d;
      } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
        x = static_cast<double>(*i);
      } else {
        return bad("must be a number");
      }
      if (!p.range.contains(x)) return bad(p.rule());
      if (!p.greater_than.empty() && context != nullptr) {
        const Parameter<S>* other = find(p.greater_than);
        const double bound = std::get<double>(other->get(*context));
        if (!(x > bound)) {
          return bad(fmt::format("{} (= {:g}{})", p.rule(), bound,
                                 other->unit.empty() ? "" : " " + other->unit));
        }
      }
      return Status::ok();
    }
    case ParameterKind::kInteger: {
      const auto* i = std::get_if<std::int64_t>(&v);
      if (i == nullptr) return bad("must be an integer");
      if (!p.range.contains(static_cast<double>(*i))) return bad(p.rule());
      return Status::ok();
    }
    case ParameterKind::kIntegerPair: {
      const auto* a = std::get_if<std::vector<std::int64_t>>(&v);
      if (a == nullptr || a->size() != 2) return bad(p.rule());
      if (!p.range.contains(static_cast<double>((*a)[0])) ||
          !p.second_range.contains(static_cast<double>((*a)[1]))) {
        return bad(p.rule());
      }
      return Status::ok();
    }
    case ParameterKind::kChoice: {
      const auto* t = std::get_if<std::string>(&v);
      if (t == nullptr) return bad(p.rule());
      for (const std::string& c : p.choices) {
        if (c == *t) return Status::ok();
      }
      return bad(p.rule());
    }
    case ParameterKind::kBoolean:
      return std::holds_alternative<bool>(v) ? Status::ok() : bad(p.rule());
    case ParameterKind::kText:
      return std::holds_alternative<std::string>(v) ? Status::ok() : bad(p.rule());
  }
  return Status::ok();
}

template <typename S>
Status ParameterTable<S>::set(S& s, std::string_view name, const Value& v) const {
  const Parameter<S>* p = find(name);
  XBARNET_ASSERT(p != nullptr, "ParameterTable::set of an undeclared parameter");
  if (p == nullptr) return Status::invalid_argument(fmt::format("{}: unknown parameter", name));
  if (Status st = check(*p, v, nullptr); !st.is_ok()) return st;
  if (p->kind == ParameterKind::kReal && std::holds_alternative<std::int64_t>(v)) {
    p->put(s, Value(static_cast<double>(std::get<std::int64_t>(v))));
  } else {
    p->put(s, v);
  }
  return Status::ok();
}

template <typename S>
Status ParameterTable<S>::validate(const S& s) const {
  for (const Parameter<S>& p : params_) {
    if (Status st = check(p, p.get(s), &s); !st.is_ok()) return st;
  }
  return Status::ok();
}

template <typename S>
std::string markdown(const ParameterTable<S>& t, bool options) {
  std::string out = options ? "| parameter | option | unit | default | rule | description |\n"
                              "|---|---|---|---|---|---|\n"
                            : "| parameter | unit | default | rule | description |\n"
                              "|---|---|---|---|---|\n";
  auto cell = [](std::string s) {  // a | inside a cell would end it
    std::string e;
    for (char c : s) {
      if (c == '|') e += "\\";
      e += c;
    }
    return e;
  };
  for (const Parameter<S>& p : t.parameters()) {
    out += fmt::format("| `{}` |", p.name);
    if (options) out += fmt::format(" `{}` |", option_name(p.name));
    const bool number = p.kind == ParameterKind::kReal || p.kind == ParameterKind::kInteger ||
                        p.kind == ParameterKind::kIntegerPair;
    out += fmt::format(" {} | {} | {} | {} |\n", p.unit.empty() ? (number ? "1" : "-") : p.unit,
                       cell(default_text(p)), cell(p.rule()), cell(p.description));
  }
  return out;
}

}  // namespace xbarnet::core
