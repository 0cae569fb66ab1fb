// Nodal analysis of one unit crossbar (DESIGN.md, "The unit-crossbar circuit").
//
// Unknowns are the voltages of the circuit's nodes after two exact reductions:
//   * 0-ohm elements (ideal driver, ideal wire segment, ideal virtual ground) merge their two
//     nodes into one (union-find), never a tiny resistance;
//   * nodes tied to a fixed voltage (ground, an ideal input source, or merged with one) are
//     eliminated and their conductances move to the right-hand side.
// The remaining matrix A is the reduced nodal (Laplacian) matrix: symmetric and, for passive
// cells with every part of the circuit connected to a driven node, positive definite.
//
// The pattern of A is declared once in assemble(); every element keeps the index of its entries
// in A's value array, so new cell conductances are re-stamped in place (gnucap/Xyce style).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "netlists/crossbar.hpp"
#include "solver/linear_solver.hpp"

namespace xbarnet::solver {

using Index = Eigen::Index;

enum class Ordering {
  kNestedDissection,  // geometric nested dissection of the cell grid (solver/ordering.hpp)
  kBackend,           // the backend's own choice (CHOLMOD: AMD, then METIS if AMD fills badly)
};

struct SolveOptions {
  Backend backend = Backend::kCholmod;
  Ordering ordering = Ordering::kNestedDissection;
  int threads = 1;             // OpenMP threads for the loops over input vectors (>= 1)
  bool node_voltages = false;  // keep every word- and bit-line node voltage (IR-drop map)
};

// Seconds spent in each phase.
struct PhaseTimes {
  double assemble = 0.0;   // topology, merging, pattern, stamping
  double analyze = 0.0;    // ordering and symbolic factorization
  double factorize = 0.0;  // numeric factorization (includes the floating-node check)
  double solve = 0.0;      // right-hand sides, triangular solves, currents, residual
};

struct SystemStats {
  Index rows = 0;
  Index cols = 0;
  std::int64_t circuit_nodes = 0;  // named nodes: ground, R inputs, R*C word, R*C bit
  std::int64_t unknowns = 0;       // after merging 0-ohm elements and eliminating driven nodes
  std::int64_t shorts = 0;         // 0-ohm elements merged away
  std::int64_t opens = 0;          // +inf-ohm elements left out
  std::int64_t branches = 0;       // conductance elements stamped (cells included)
  FactorStats factor;              // from the backend, after analyze()
};

struct CrossbarSolution {
  Eigen::MatrixXd column_current;             // K x C [A], flowing into the neurons
  std::vector<Eigen::MatrixXd> word_voltage;  // K matrices R x C [V]: V(w(i,j)), if asked
  std::vector<Eigen::MatrixXd> bit_voltage;   // K matrices R x C [V]: V(b(i,j)), if asked
  // Largest normwise relative residual over the input vectors:
  // ||A x - b||_inf / (||A||_inf ||x||_inf + ||b||_inf), 0 when nothing was solved.
  double relative_residual = 0.0;

  // Voltage actually across each cell, V(w(i,j)) - V(b(i,j)), for input vector k [V].
  Eigen::MatrixXd cell_voltage(Index k) const { return word_voltage[k] - bit_voltage[k]; }
};

// The exact transfer matrix of a tile: column currents I = T V for any input vector V.
struct TransferMatrix {
  Eigen::MatrixXd t;  // C x R [S]
  SystemStats stats;
  PhaseTimes times;  // solve = extracting T from the factor (or the R solves)
  std::string method;
};

class CrossbarSystem {
 public:
  // Validates the crossbar, merges shorts, eliminates driven nodes, declares the pattern and
  // stamps the values.
  static StatusOr<CrossbarSystem> assemble(const netlists::Crossbar& xbar,
                                           Backend backend = Backend::kCholmod,
                                           Ordering ordering = Ordering::kNestedDissection);

  CrossbarSystem(CrossbarSystem&&) noexcept;
  CrossbarSystem& operator=(CrossbarSystem&&) noexcept;
  ~CrossbarSystem();

  // Fill-reducing ordering and symbolic factorization (pattern only).
  Status analyze();
  // Checks that no node floats (names one if it does), then factorizes the current values.
  Status factorize();
  // Solves for a block of K input vectors (K x R [V]) with the current factorization.
  StatusOr<CrossbarSolution> solve(const Eigen::MatrixXd& inputs, const SolveOptions& options);

  // Re-stamps new cell conductances (R x C [S]) into the same pattern; factorize() again after.
  Status set_conductances(const Eigen::MatrixXd& conductance);

  const SystemStats& stats() const;
  const PhaseTimes& times() const;
  const SparseMatrix& matrix() const;
  const netlists::Crossbar& crossbar() const;
  // A circuit node name of unknown p (the first node merged into it), e.g. "w3_5".
  std::string unknown_name(std::int64_t p) const;

 private:
  friend StatusOr<TransferMatrix> transfer_matrix(const netlists::Crossbar&, const SolveOptions&);
  // transfer_mode keeps the inputs and virtual grounds as unknowns, numbered last.
  static StatusOr<CrossbarSystem> assemble_system(const netlists::Crossbar& xbar, Backend backend,
                                                  Ordering ordering, bool transfer_mode);
  struct Impl;
  explicit CrossbarSystem(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CrossbarRun {
  CrossbarSolution solution;
  SystemStats stats;
  PhaseTimes times;
};

// The tile's transfer matrix by the Schur complement of the nodal matrix onto the R input and C
// virtual-ground nodes: they are kept as unknowns, ordered last, and T = -(L_BB L_BB^T)[out, in]
// from the trailing block of one Cholesky factor -- about the cost of one factorization. The
// KLU backend has no such block and falls back to transfer_matrix_by_solves.
StatusOr<TransferMatrix> transfer_matrix(const netlists::Crossbar& xbar,
                                         const SolveOptions& options = {});

// The same matrix by R solves with unit input vectors (the reference the tests compare with).
StatusOr<TransferMatrix> transfer_matrix_by_solves(const netlists::Crossbar& xbar,
                                                   const SolveOptions& options = {});

// assemble + analyze + factorize + solve in one call.
StatusOr<CrossbarRun> solve_crossbar(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                     const SolveOptions& options = {});

}  // namespace xbarnet::solver
