#include "netlists/spice.hpp"

#include "netlists/netlist.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <charconv>
#include <cmath>
#include <istream>
#include <limits>
#include <ostream>
#include <vector>

namespace xbarnet::netlists {

namespace {

// Writes a two-terminal resistance: a resistor, a 0 V source for a short, nothing for an open.
void write_resistance(std::ostream& out, const std::string& name, const std::string& a,
                      const std::string& b, double ohms) {
  if (std::isinf(ohms)) {
    fmt::print(out, "* {} {} {} open\n", name, a, b);
  } else if (ohms == 0.0) {
    fmt::print(out, "V{} {} {} DC 0\n", name, a, b);
  } else {
    fmt::print(out, "R{} {} {} {:.17g}\n", name, a, b, ohms);
  }
}

const char* heading(ElementKind kind) {
  switch (kind) {
    case ElementKind::kInput:
      return "input sources (first input vector)";
    case ElementKind::kSource:
      return "source (driver) resistance";
    case ElementKind::kWordline:
      return "word-line segments";
    case ElementKind::kCell:
      return "cells (resistance = 1/G)";
    case ElementKind::kBitline:
      return "bit-line segments";
    case ElementKind::kNeuron:
      return "neuron resistance, bit line to virtual ground";
    case ElementKind::kSense:
      return "virtual grounds: ammeter Vcol<j> from vg<j> to ground reads the column current";
  }
  return "";
}

}  // namespace

std::string spice_column_current_name(Index j) { return fmt::format("i(vcol{})", j); }

Status write_spice(std::ostream& out, const Crossbar& x, const Eigen::MatrixXd& inputs,
                   const SpiceOptions& options) {
  if (Status s = validate(x); !s.is_ok()) return s;
  if (Status s = validate_inputs(x, inputs); !s.is_ok()) return s;
  const Index rows = x.rows();
  const Index cols = x.cols();
  const Netlist net = build_netlist(x);
  const NodeNumbering& nodes = net.nodes;

  // The title is a comment: a control character in it (a line break) would start a card.
  std::string title = options.title;
  for (char& ch : title) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  }
  fmt::print(out, "* {}\n", title);
  fmt::print(out,
             "* {} rows x {} columns, {} input vector(s). Written by xbarnet; SI units.\n"
             "* Nodes: in<i> input source, w<i>_<j> word line, b<i>_<j> bit line, vg<j> virtual "
             "ground.\n"
             "* Column j current (A) = i(vcol<j>), flowing from the bit line into the neuron.\n",
             rows, cols, inputs.rows());

  // One line (or comment) per element of the netlist, in its order, under a heading per kind.
  ElementKind previous = ElementKind::kSense;
  bool first = true;
  for (const Element& e : net.elements) {
    if (first || e.kind != previous) fmt::print(out, "\n* {}\n", heading(e.kind));
    first = false;
    previous = e.kind;
    const auto [i, j] = net.position(e);
    const std::string a = nodes.name(e.a);
    const std::string b = nodes.name(e.b);
    switch (e.kind) {
      case ElementKind::kInput:
        fmt::print(out, "Vin{} {} {} DC {:.17g}\n", i, a, b, inputs(0, i));
        break;
      case ElementKind::kSource:
        write_resistance(out, fmt::format("s{}", i), a, b, e.value);
        break;
      case ElementKind::kWordline:
        write_resistance(out, fmt::format("w{}_{}", i, j), a, b, e.value);
        break;
      case ElementKind::kCell:
        if (e.value == 0.0) {
          fmt::print(out, "* Rc{}_{} omitted: G = 0\n", i, j);
        } else {
          fmt::print(out, "Rc{}_{} {} {} {:.17g}\n", i, j, a, b, 1.0 / e.value);
        }
        break;
      case ElementKind::kBitline:
        write_resistance(out, fmt::format("b{}_{}", i, j), a, b, e.value);
        break;
      case ElementKind::kNeuron:
        write_resistance(out, fmt::format("n{}", j), a, b, e.value);
        break;
      case ElementKind::kSense:
        if (std::isinf(net.neuron(j).value)) {
          fmt::print(out, "* column {} is open (r_neuron = +inf): its current is 0\n", j);
        } else {
          fmt::print(out, "Vcol{} {} {} DC 0\n", j, a, b);
        }
        break;
    }
  }

  if (!options.control_block) {
    fmt::print(out, "\n.op\n.end\n");
    return Status::ok();
  }
  fmt::print(out, "\n.control\nset numdgt=17\n");
  for (Index k = 0; k < inputs.rows(); ++k) {
    if (k > 0) {
      for (Index i = 0; i < rows; ++i) {
        if (inputs(k, i) != inputs(k - 1, i)) {
          fmt::print(out, "alter vin{} dc = {:.17g}\n", i, inputs(k, i));
        }
      }
    }
    fmt::print(out, "op\necho xbarnet-input {}\n", k);
    for (Index j = 0; j < cols; ++j) {
      if (!std::isinf(x.r_neuron(j))) fmt::print(out, "print {}\n", spice_column_current_name(j));
    }
  }
  // quit 0: ngspice -b otherwise exits 1 because the deck has no analysis outside .control.
  fmt::print(out, "quit 0\n.endc\n.end\n");
  return Status::ok();
}

namespace {

// One parsed line: its words.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> w;
  std::string cur;
  for (char ch : line) {
    if (ch == ' ' || ch == '\t' || ch == '\r') {
      if (!cur.empty()) w.push_back(std::move(cur)), cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) w.push_back(std::move(cur));
  return w;
}

bool parse_double(const std::string& t, double& v) {
  const char* end = t.data() + t.size();
  const auto [ptr, ec] = std::from_chars(t.data(), end, v);
  return ec == std::errc() && ptr == end;
}

// "3_5" -> (3, 5); "3" -> (3, -1).
bool parse_index(const std::string& t, Index& i, Index& j) {
  const auto us = t.find('_');
  const std::string a = t.substr(0, us);
  const char* end = a.data() + a.size();
  auto r = std::from_chars(a.data(), end, i);
  if (r.ec != std::errc() || r.ptr != end || a.empty() || i < 0) return false;
  j = -1;
  if (us == std::string::npos) return true;
  const std::string b = t.substr(us + 1);
  const char* end_b = b.data() + b.size();
  r = std::from_chars(b.data(), end_b, j);
  return r.ec == std::errc() && r.ptr == end_b && !b.empty() && j >= 0;
}

}  // namespace

StatusOr<SpiceDeck> read_spice(std::istream& in) {
  std::string line;
  int number = 0;
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument(fmt::format("line {}: {}", number, why));
  };
  // Line 2 gives the sizes: "* R rows x C columns, K input vector(s). ..."
  Index rows = -1, cols = -1, vectors = -1;
  while (rows < 0 && std::getline(in, line)) {
    ++number;
    const std::vector<std::string> w = words(line);
    if (w.size() >= 7 && w[0] == "*" && w[2] == "rows" && w[3] == "x" && w[5] == "columns,") {
      Index dummy = 0;
      if (!parse_index(w[1], rows, dummy) || !parse_index(w[4], cols, dummy) ||
          !parse_index(w[6], vectors, dummy) || rows < 1 || cols < 1 || vectors < 1 ||
          rows > 65536 || cols > 65536 || vectors > (Index{1} << 20) ||
          rows * cols > (Index{1} << 26)) {
        return bad("the size line does not give R rows x C columns, K input vectors in range");
      }
    }
  }
  if (rows < 0)
    return bad("no size line ('* R rows x C columns, K input vector(s)'): not an xbarnet netlist");
  SpiceDeck deck;
  Crossbar& x = deck.xbar;
  constexpr double kUnset = -1.0;
  x = Crossbar::uniform(Eigen::MatrixXd::Constant(rows, cols, kUnset), kUnset, kUnset, kUnset,
                        kUnset);
  deck.inputs = Eigen::MatrixXd::Constant(vectors, rows, std::nan(""));
  Index vector = 0;
  bool in_control = false, ended = false;
  auto set = [&](double& slot, double value, const std::string& what) -> Status {
    if (slot != kUnset) return bad(fmt::format("{} is given twice", what));
    slot = value;
    return Status::ok();
  };
  while (std::getline(in, line)) {
    ++number;
    const std::vector<std::string> w = words(line);
    if (w.empty()) continue;
    const std::string& head = w[0];
    if (head == ".end") {
      ended = true;
      break;
    }
    if (head == ".control") {
      in_control = true;
      continue;
    }
    if (in_control) {
      if (head == "set" || head == "op" || head == "print" || head == "quit" || head == ".endc") {
        continue;
      }
      if (head == "echo" && w.size() == 3 && w[1] == "xbarnet-input") {
        Index k = 0, dummy = 0;
        if (!parse_index(w[2], k, dummy) || k != vector || k >= vectors) {
          return bad("input vectors out of order");
        }
        // Vector k is vector k-1 with the sources its alter lines changed.
        for (Index i = 0; k > 0 && i < rows; ++i) {
          if (std::isnan(deck.inputs(k, i))) deck.inputs(k, i) = deck.inputs(k - 1, i);
        }
        ++vector;
        continue;
      }
      if (head == "alter" && w.size() == 5 && w[2] == "dc" && w[3] == "=" &&
          w[1].rfind("vin", 0) == 0) {
        Index i = 0, j = 0;
        double v = 0.0;
        if (!parse_index(w[1].substr(3), i, j) || j >= 0 || i >= rows || !parse_double(w[4], v) ||
            !std::isfinite(v) || vector < 1 || vector >= vectors) {
          return bad(fmt::format("'{}' is not an alter of an input source in range", line));
        }
        deck.inputs(vector, i) = v;
        continue;
      }
      return bad(fmt::format("'{}' is not a line of an xbarnet control block", line));
    }
    if (head == ".op") continue;
    // Comments: an open element "* <name> <a> <b> open", an omitted cell, an open column.
    if (head == "*") {
      if (w.size() == 5 && w[4] == "open") {
        const std::string& name = w[1];
        Index i = 0, j = 0;
        if (name.size() < 2 || !parse_index(name.substr(1), i, j)) continue;
        const double inf = std::numeric_limits<double>::infinity();
        Status st;
        if (name[0] == 's' && j < 0 && i < rows)
          st = set(x.r_source(i), inf, name);
        else if (name[0] == 'w' && j >= 0 && i < rows && j + 1 < cols)
          st = set(x.r_wordline(i, j), inf, name);
        else if (name[0] == 'b' && j >= 0 && i + 1 < rows && j < cols)
          st = set(x.r_bitline(i, j), inf, name);
        else if (name[0] == 'n' && j < 0 && i < cols)
          st = set(x.r_neuron(i), inf, name);
        else
          return bad(fmt::format("'{}' names no element of a {} x {} crossbar", name, rows, cols));
        if (!st.is_ok()) return st;
      } else if (w.size() == 6 && w[2] == "omitted:" && w[1].rfind("Rc", 0) == 0) {
        Index i = 0, j = 0;
        if (!parse_index(w[1].substr(2), i, j) || j < 0 || i >= rows || j >= cols) {
          return bad(fmt::format("'{}' names no cell", w[1]));
        }
        if (Status st = set(x.conductance(i, j), 0.0, w[1]); !st.is_ok()) return st;
      }
      continue;
    }
    // Elements: R<name> a b value, or V<name> a b DC value.
    const bool resistor = head[0] == 'R' && w.size() == 4;
    const bool source = head[0] == 'V' && w.size() == 5 && w[3] == "DC";
    if (!resistor && !source)
      return bad(fmt::format("'{}' is not an element xbarnet writes", line));
    double value = 0.0;
    if (!parse_double(w.back(), value) || !std::isfinite(value)) {
      return bad(fmt::format("'{}' is not a finite value", w.back()));
    }
    const std::string name = head.substr(1);
    if (value < 0.0 && !(source && name.rfind("in", 0) == 0)) {
      return bad(fmt::format("'{}': only an input source may be negative", line));
    }
    if (source && name.rfind("in", 0) == 0) {
      Index i = 0, j = 0;
      if (!parse_index(name.substr(2), i, j) || j >= 0 || i >= rows)
        return bad("input source out of range");
      double v = 0.0;
      if (!parse_double(w[4], v) || !std::isfinite(v)) return bad("input source value");
      if (!std::isnan(deck.inputs(0, i))) return bad(fmt::format("{} is given twice", head));
      deck.inputs(0, i) = v;
      continue;
    }
    if (source && name.rfind("col", 0) == 0) continue;  // the ammeter of a column
    if (source && value != 0.0) return bad(fmt::format("'{}': a short is a 0 V source", line));
    const double ohms = source ? 0.0 : value;
    if (name.empty()) return bad("an element without a name");
    const char kind = name[0];
    if (kind == 'c') {
      Index i = 0, j = 0;
      if (!parse_index(name.substr(1), i, j) || j < 0 || i >= rows || j >= cols || !resistor ||
          !(value > 0.0)) {
        return bad(fmt::format("'{}' is not a cell of the crossbar", head));
      }
      if (Status st = set(x.conductance(i, j), 1.0 / value, head); !st.is_ok()) return st;
      continue;
    }
    Index i = 0, j = 0;
    if (!parse_index(name.substr(1), i, j)) return bad(fmt::format("'{}': no index", head));
    Status st;
    if (kind == 's' && j < 0 && i < rows)
      st = set(x.r_source(i), ohms, head);
    else if (kind == 'w' && j >= 0 && i < rows && j + 1 < cols)
      st = set(x.r_wordline(i, j), ohms, head);
    else if (kind == 'b' && j >= 0 && i + 1 < rows && j < cols)
      st = set(x.r_bitline(i, j), ohms, head);
    else if (kind == 'n' && j < 0 && i < cols)
      st = set(x.r_neuron(i), ohms, head);
    else
      return bad(fmt::format("'{}' names no element of a {} x {} crossbar", head, rows, cols));
    if (!st.is_ok()) return st;
  }
  if (!ended) return bad("no .end line: the netlist is truncated");
  // Every element given, every input vector complete.
  auto missing = [&](const char* field, const auto& m) -> Status {
    for (Index j = 0; j < m.cols(); ++j)
      for (Index i = 0; i < m.rows(); ++i)
        if (m(i, j) == kUnset)
          return Status::invalid_argument(fmt::format("{}[{},{}] is missing", field, i, j));
    return Status::ok();
  };
  for (Status st : {missing("conductance", x.conductance), missing("r_source", x.r_source),
                    missing("r_wordline", x.r_wordline), missing("r_bitline", x.r_bitline),
                    missing("r_neuron", x.r_neuron)}) {
    if (!st.is_ok()) return st;
  }
  for (Index k = 1; k < vectors; ++k) {  // a plain .op deck holds the first vector only
    for (Index i = 0; i < rows; ++i) {
      if (std::isnan(deck.inputs(k, i))) deck.inputs(k, i) = deck.inputs(k - 1, i);
    }
  }
  if (!deck.inputs.allFinite()) return Status::invalid_argument("an input source is missing");
  if (vector != vectors && vector != 0) {
    return Status::invalid_argument(
        fmt::format("{} of {} input vectors in the control block", vector, vectors));
  }
  if (Status st = validate(x); !st.is_ok()) return st;
  return deck;
}

}  // namespace xbarnet::netlists
