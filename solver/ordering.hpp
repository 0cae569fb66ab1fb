// Fill-reducing ordering for crossbar tiles: geometric nested dissection of the two-layer grid.
//
// Every cell (i,j) has a word-line node w(i,j) and a bit-line node b(i,j). Word-line segments
// join w nodes within a row and bit-line segments join b nodes within a column, so
//   * the b nodes of one row separate the rows above from the rows below (the w nodes of that
//     row are left as an isolated path), and
//   * the w nodes of one column separate the columns on the left from those on the right (its
//     b nodes are left as an isolated path).
// Recursing on the longer side gives separators of one node per cell of a line: the classic
// O(n log n) fill and O(n^1.5) flops of a 2-D grid, at no ordering cost.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace xbarnet::solver {

// Node ids of the grid: w(i,j) = 2 (i cols + j), b(i,j) = 2 (i cols + j) + 1.
// Returns every node id once, in elimination order (separators after what they separate).
// Regions of at most `leaf` cells are kept in natural order.
std::vector<std::int64_t> grid_nested_dissection(Eigen::Index rows, Eigen::Index cols,
                                                 Eigen::Index leaf = 8);

}  // namespace xbarnet::solver
