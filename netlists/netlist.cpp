#include "netlists/netlist.hpp"

#include <fmt/format.h>

namespace xbarnet::netlists {

std::string NodeNumbering::name(NodeId id) const {
  const std::int64_t r = rows_;
  const std::int64_t c = cols_;
  XBARNET_ASSERT(id >= 0 && id < count(), "node id out of range");
  if (id == 0) return "0";
  if (id <= r) return input_node_name(id - 1);
  id -= 1 + r;
  if (id < r * c) return word_node_name(id / c, id % c);
  id -= r * c;
  if (id < r * c) return bit_node_name(id / c, id % c);
  return virtual_ground_node_name(id - r * c);
}

std::pair<Index, Index> Netlist::position(const Element& e) const {
  const std::int64_t r = nodes.rows();
  const std::int64_t c = nodes.cols();
  switch (e.kind) {
    case ElementKind::kInput:
    case ElementKind::kSource:
      return {e.a - 1, 0};
    case ElementKind::kWordline:
    case ElementKind::kCell: {
      const std::int64_t k = e.a - nodes.word(0, 0);
      return {k / c, k % c};
    }
    case ElementKind::kBitline: {
      const std::int64_t k = e.a - nodes.bit(0, 0);
      return {k / c, k % c};
    }
    case ElementKind::kNeuron:
      return {r - 1, e.b - nodes.virtual_ground(0)};
    case ElementKind::kSense:
      return {r - 1, e.a - nodes.virtual_ground(0)};
  }
  return {0, 0};
}

Netlist build_netlist(const Crossbar& x) {
  const Index r = x.rows();
  const Index c = x.cols();
  Netlist n;
  n.nodes = NodeNumbering(r, c);
  const NodeNumbering& id = n.nodes;
  std::vector<Element>& el = n.elements;
  el.reserve(static_cast<size_t>(2 * r + r * (c - 1) + r * c + (r - 1) * c + 2 * c));
  auto add = [&](NodeId a, NodeId b, double value, ElementKind kind) {
    el.push_back({a, b, value, kind, CellModel::kLinear});
  };
  auto mark = [&](std::int64_t& first) { first = static_cast<std::int64_t>(el.size()); };
  for (Index i = 0; i < r; ++i) add(id.input(i), NodeNumbering::ground(), 0.0, ElementKind::kInput);
  mark(n.first_source);
  for (Index i = 0; i < r; ++i)
    add(id.input(i), id.word(i, 0), x.r_source(i), ElementKind::kSource);
  mark(n.first_wordline);
  for (Index i = 0; i < r; ++i) {
    for (Index j = 0; j + 1 < c; ++j) {
      add(id.word(i, j), id.word(i, j + 1), x.r_wordline(i, j), ElementKind::kWordline);
    }
  }
  mark(n.first_cell);
  for (Index i = 0; i < r; ++i) {
    for (Index j = 0; j < c; ++j)
      add(id.word(i, j), id.bit(i, j), x.conductance(i, j), ElementKind::kCell);
  }
  mark(n.first_bitline);
  for (Index i = 0; i + 1 < r; ++i) {
    for (Index j = 0; j < c; ++j) {
      add(id.bit(i, j), id.bit(i + 1, j), x.r_bitline(i, j), ElementKind::kBitline);
    }
  }
  mark(n.first_neuron);
  for (Index j = 0; j < c; ++j) {
    add(id.bit(r - 1, j), id.virtual_ground(j), x.r_neuron(j), ElementKind::kNeuron);
  }
  mark(n.first_sense);
  for (Index j = 0; j < c; ++j) {
    add(id.virtual_ground(j), NodeNumbering::ground(), 0.0, ElementKind::kSense);
  }
  return n;
}

}  // namespace xbarnet::netlists
