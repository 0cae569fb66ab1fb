#include "netlists/spice.hpp"

#include "netlists/netlist.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <cmath>
#include <ostream>

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

  fmt::print(out, "* {}\n", options.title);
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

}  // namespace xbarnet::netlists
