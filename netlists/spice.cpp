#include "netlists/spice.hpp"

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

}  // namespace

std::string spice_column_current_name(Index j) { return fmt::format("i(vcol{})", j); }

Status write_spice(std::ostream& out, const Crossbar& x, const Eigen::MatrixXd& inputs,
                   const SpiceOptions& options) {
  if (Status s = validate(x); !s.is_ok()) return s;
  if (Status s = validate_inputs(x, inputs); !s.is_ok()) return s;
  const Index rows = x.rows();
  const Index cols = x.cols();

  fmt::print(out, "* {}\n", options.title);
  fmt::print(out,
             "* {} rows x {} columns, {} input vector(s). Written by xbarnet; SI units.\n"
             "* Nodes: in<i> input source, w<i>_<j> word line, b<i>_<j> bit line.\n"
             "* Column j current (A) = i(vcol<j>), flowing from the bit line into the neuron.\n",
             rows, cols, inputs.rows());

  fmt::print(out, "\n* input sources (first input vector)\n");
  for (Index i = 0; i < rows; ++i) {
    fmt::print(out, "Vin{} {} 0 DC {:.17g}\n", i, input_node_name(i), inputs(0, i));
  }
  fmt::print(out, "\n* source (driver) resistance\n");
  for (Index i = 0; i < rows; ++i) {
    write_resistance(out, fmt::format("s{}", i), input_node_name(i), word_node_name(i, 0),
                     x.r_source(i));
  }
  fmt::print(out, "\n* word-line segments\n");
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j + 1 < cols; ++j) {
      write_resistance(out, fmt::format("w{}_{}", i, j), word_node_name(i, j),
                       word_node_name(i, j + 1), x.r_wordline(i, j));
    }
  }
  fmt::print(out, "\n* cells (resistance = 1/G)\n");
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const double g = x.conductance(i, j);
      if (g == 0.0) {
        fmt::print(out, "* Rc{}_{} omitted: G = 0\n", i, j);
      } else {
        fmt::print(out, "Rc{}_{} {} {} {:.17g}\n", i, j, word_node_name(i, j), bit_node_name(i, j),
                   1.0 / g);
      }
    }
  }
  fmt::print(out, "\n* bit-line segments\n");
  for (Index i = 0; i + 1 < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      write_resistance(out, fmt::format("b{}_{}", i, j), bit_node_name(i, j),
                       bit_node_name(i + 1, j), x.r_bitline(i, j));
    }
  }
  fmt::print(out, "\n* neurons: ammeter Vcol<j>, then the neuron resistance to virtual ground\n");
  for (Index j = 0; j < cols; ++j) {
    const std::string bottom = bit_node_name(rows - 1, j);
    const double rn = x.r_neuron(j);
    if (std::isinf(rn)) {
      fmt::print(out, "* column {} is open (r_neuron = +inf): its current is 0\n", j);
    } else if (rn == 0.0) {
      fmt::print(out, "Vcol{} {} 0 DC 0\n", j, bottom);
    } else {
      fmt::print(out, "Vcol{} {} n{} DC 0\n", j, bottom, j);
      fmt::print(out, "Rn{} n{} 0 {:.17g}\n", j, j, rn);
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
