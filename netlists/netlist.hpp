// The element list of a unit crossbar: the one place in the library where the circuit of
// DESIGN.md ("The unit-crossbar circuit") is written down. The solver stamps it and the SPICE
// writer prints it; nothing else enumerates the circuit's elements. (The tests' independent MNA
// oracle builds its own circuit from DESIGN.md on purpose, so that it stays independent.)
//
// Nodes (NodeNumbering): ground 0; in(i) the ideal input source of row i; w(i,j) and b(i,j) the
// word and bit line at cell (i,j); vg(j) the virtual ground of column j. Elements, in this order:
//
//   kInput     in(i) - ground       ideal source V_i (the value comes with each input vector)
//   kSource    in(i) - w(i,0)       R_s,i [ohm]
//   kWordline  w(i,j) - w(i,j+1)    r_w [ohm], C-1 per row
//   kCell      w(i,j) - b(i,j)      G_ij [S], with a model tag (linear today)
//   kBitline   b(i,j) - b(i+1,j)    r_b [ohm], R-1 per column
//   kNeuron    b(R-1,j) - vg(j)     R_n,j [ohm]
//   kSense     vg(j) - ground       0 V: the ammeter whose current is the column output I_j
//
// A resistance of 0 is an ideal wire, +inf an open (absent) element; consumers decide how to
// treat them (the solver merges shorts and skips opens, SPICE writes 0 V sources and comments).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "netlists/crossbar.hpp"

namespace xbarnet::netlists {

using NodeId = std::int64_t;

// Node ids of an R x C crossbar.
class NodeNumbering {
 public:
  NodeNumbering(Index rows, Index cols) : rows_(rows), cols_(cols) {}
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  static constexpr NodeId ground() { return 0; }
  NodeId input(Index i) const { return 1 + i; }
  NodeId word(Index i, Index j) const { return 1 + rows_ + i * cols_ + j; }
  NodeId bit(Index i, Index j) const { return 1 + rows_ + rows_ * cols_ + i * cols_ + j; }
  NodeId virtual_ground(Index j) const { return 1 + rows_ + 2 * rows_ * cols_ + j; }
  std::int64_t count() const { return 1 + rows_ + 2 * rows_ * cols_ + cols_; }
  // "0", "in3", "w3_5", "b3_5", "vg5"
  std::string name(NodeId id) const;

 private:
  Index rows_, cols_;
};

enum class ElementKind : std::uint8_t {
  kInput,
  kSource,
  kWordline,
  kCell,
  kBitline,
  kNeuron,
  kSense,
};

// The I-V model of a cell. Only linear cells exist today; nonlinear models get their own tags
// (and a Newton loop in solver/) without a new element list.
enum class CellModel : std::uint8_t { kLinear };

struct Element {
  NodeId a = 0;  // current flows a -> b through the element when positive
  NodeId b = 0;
  double value = 0.0;  // ohm for resistances, S for cells, 0 for kInput and kSense
  ElementKind kind = ElementKind::kCell;
  CellModel model = CellModel::kLinear;

  bool is_resistance() const {
    return kind == ElementKind::kSource || kind == ElementKind::kWordline ||
           kind == ElementKind::kBitline || kind == ElementKind::kNeuron;
  }
};

struct Netlist {
  NodeNumbering nodes{0, 0};
  std::vector<Element> elements;

  // Where each kind starts; elements of one kind are contiguous, in row-major cell order.
  std::int64_t first_source = 0, first_wordline = 0, first_cell = 0, first_bitline = 0,
               first_neuron = 0, first_sense = 0;
  const Element& cell(Index i, Index j) const {
    XBARNET_ASSERT(i >= 0 && i < nodes.rows() && j >= 0 && j < nodes.cols(), "cell index");
    return elements[first_cell + i * nodes.cols() + j];
  }
  const Element& neuron(Index j) const {
    XBARNET_ASSERT(j >= 0 && j < nodes.cols(), "neuron index");
    return elements[first_neuron + j];
  }

  // The (row, column) an element belongs to, for names: cell and segment (i,j), row i of a
  // source or input (j = 0), column j of a neuron or sense (i = R-1).
  std::pair<Index, Index> position(const Element& e) const;
};

// The element list of a crossbar (which must pass netlists::validate).
Netlist build_netlist(const Crossbar& xbar);

}  // namespace xbarnet::netlists
