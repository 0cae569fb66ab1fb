// An independent reference for the tests: textbook modified nodal analysis of the whole crossbar
// circuit, dense, with every 0-ohm element (and every input source) as a voltage source with its
// own branch-current unknown. It shares no code with solver/ (no merging, no elimination), so
// agreement checks the merging and elimination logic too. Small tiles only.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "netlists/crossbar.hpp"

namespace xbarnet::testing {

struct MnaSolution {
  Eigen::MatrixXd current;            // K x C [A] through the neuron elements
  std::vector<Eigen::MatrixXd> word;  // K matrices R x C [V]: V(w(i,j))
  std::vector<Eigen::MatrixXd> bit;   // K matrices R x C [V]: V(b(i,j))
};

// Solves the circuit for every input vector (K x R [V]).
inline MnaSolution reference_mna_solution(const netlists::Crossbar& x,
                                          const Eigen::MatrixXd& inputs) {
  using Eigen::Index;
  const Index r = x.rows();
  const Index c = x.cols();
  // Nodes (ground excluded): in(i), w(i,j), b(i,j), n(j) (between the ammeter and R_n).
  auto in = [&](Index i) { return i; };
  auto w = [&](Index i, Index j) { return r + i * c + j; };
  auto b = [&](Index i, Index j) { return r + r * c + i * c + j; };
  auto nn = [&](Index j) { return r + 2 * r * c + j; };
  const Index nodes = r + 2 * r * c + c;
  constexpr Index kGnd = -1;

  struct Resistor {
    Index a, b;
    double g;
  };
  struct Source {
    Index a, b;
    int input;
  };  // V(a) - V(b) = value; input < 0 means 0 V
  std::vector<Resistor> res;
  std::vector<Source> src;
  std::vector<Index> ammeter(c, -1);
  auto element = [&](double ohms, Index a, Index bb) {
    if (std::isinf(ohms)) return;
    if (ohms == 0.0) {
      src.push_back({a, bb, -1});
    } else {
      res.push_back({a, bb, 1.0 / ohms});
    }
  };
  for (Index i = 0; i < r; ++i) src.push_back({in(i), kGnd, static_cast<int>(i)});
  for (Index i = 0; i < r; ++i) element(x.r_source(i), in(i), w(i, 0));
  for (Index i = 0; i < r; ++i)
    for (Index j = 0; j + 1 < c; ++j) element(x.r_wordline(i, j), w(i, j), w(i, j + 1));
  for (Index i = 0; i < r; ++i)
    for (Index j = 0; j < c; ++j) res.push_back({w(i, j), b(i, j), x.conductance(i, j)});
  for (Index i = 0; i + 1 < r; ++i)
    for (Index j = 0; j < c; ++j) element(x.r_bitline(i, j), b(i, j), b(i + 1, j));
  for (Index j = 0; j < c; ++j) {
    if (std::isinf(x.r_neuron(j))) continue;
    ammeter[j] = static_cast<Index>(src.size());
    src.push_back({b(r - 1, j), nn(j), -1});  // 0 V ammeter, current flows b -> n
    element(x.r_neuron(j), nn(j), kGnd);
  }
  // A node that ends up with no element (n(j) of an open column) gets a unit conductance to
  // ground so the matrix stays regular; it carries no current.
  const Index m = nodes + static_cast<Index>(src.size());
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(m, m);
  for (const Resistor& e : res) {
    if (e.a != kGnd) a(e.a, e.a) += e.g;
    if (e.b != kGnd) a(e.b, e.b) += e.g;
    if (e.a != kGnd && e.b != kGnd) {
      a(e.a, e.b) -= e.g;
      a(e.b, e.a) -= e.g;
    }
  }
  for (Index k = 0; k < static_cast<Index>(src.size()); ++k) {
    const Source& s = src[k];
    const Index row = nodes + k;
    if (s.a != kGnd) {
      a(s.a, row) += 1;
      a(row, s.a) += 1;
    }
    if (s.b != kGnd) {
      a(s.b, row) -= 1;
      a(row, s.b) -= 1;
    }
  }
  for (Index p = 0; p < nodes; ++p) {
    if (a.row(p).cwiseAbs().sum() == 0.0) a(p, p) = 1.0;
  }
  Eigen::PartialPivLU<Eigen::MatrixXd> lu(a);
  MnaSolution out;
  out.current.resize(inputs.rows(), c);
  for (Index k = 0; k < inputs.rows(); ++k) {
    Eigen::VectorXd rhs = Eigen::VectorXd::Zero(m);
    for (Index s = 0; s < static_cast<Index>(src.size()); ++s) {
      if (src[s].input >= 0) rhs(nodes + s) = inputs(k, src[s].input);
    }
    const Eigen::VectorXd sol = lu.solve(rhs);
    for (Index j = 0; j < c; ++j) {
      out.current(k, j) = ammeter[j] < 0 ? 0.0 : sol(nodes + ammeter[j]);
    }
    out.word.emplace_back(r, c);
    out.bit.emplace_back(r, c);
    for (Index i = 0; i < r; ++i) {
      for (Index j = 0; j < c; ++j) {
        out.word.back()(i, j) = sol(w(i, j));
        out.bit.back()(i, j) = sol(b(i, j));
      }
    }
  }
  return out;
}

// Returns the column currents (K x C) through the neuron elements.
inline Eigen::MatrixXd reference_mna(const netlists::Crossbar& x, const Eigen::MatrixXd& inputs) {
  return reference_mna_solution(x, inputs).current;
}

}  // namespace xbarnet::testing
