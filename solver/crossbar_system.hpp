// Nodal analysis of one unit crossbar (DESIGN.md, "The unit-crossbar circuit").
//
// A CrossbarSystem is built once per tile and reused: assemble() reads the element list of
// netlists/netlist.hpp, merges 0-ohm elements exactly (union-find, never a tiny resistance),
// eliminates driven nodes, declares the matrix pattern and stamps the values by stored index
// (gnucap/Xyce style). Then three separate verbs, in this order (Eigen / Ceres):
//
//   analyze()    ordering and symbolic factorization, from the pattern only (once); with no
//                0 S branch, also the floating-node search (then a pattern property);
//   factorize()  numeric factorization of the current values (after every re-stamp);
//   solve()      a block of input vectors with the current factor (any number of times);
//
// and set_conductances() re-stamps new cell conductances into the same pattern, so a correction
// loop or a Monte-Carlo sweep pays analyze() once and factorize() per iteration (counters() says
// how many of each ran). Calling a verb out of order is a programmer error (asserted in Debug
// builds; a Status in Release builds).
//
// Two modes:
//   kDriven    the inputs are ideal sources and the virtual grounds are tied to ground: the
//              unknowns are the remaining node voltages. Column currents, node voltages, and
//              current injections (the right-hand side a Newton iteration needs) are available.
//   kTransfer  the R input nodes and the C virtual grounds are kept as unknowns, numbered last
//              (the "boundary"). transfer_matrix() is then the Schur complement onto them, from
//              the trailing block of one Cholesky factor: about the cost of one factorization.
//              solve() works too (it drives the boundary through the same factor). Backends
//              without a Schur complement (KLU) assemble in driven mode and build T by R solves.
//
// Unknowns and the matrix: for passive cells with every part of the circuit connected to a
// driven node, the reduced nodal (Laplacian) matrix is symmetric positive definite.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <span>
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

enum class Mode { kDriven, kTransfer };

// A resistance whose conductance exceeds kShortRatio times the tile's largest cell conductance
// (or whose 1/r overflows) is merged as an exact short, like a 0-ohm element. 1e10 is where the
// two errors cross (docs/model.md has the measurement): a kept element of conductance ratio k
// costs rounding errors of about k * eps / 2 in the currents (eliminating a stiff node cancels
// digits), 1e-6 at 1e10, 1e-4 at 1e12; merging one drops at most max(R, C) / k of the read
// voltage: the currents of a 256 x 256 tile with every bit-line segment at the ratio differ
// from those of 0 ohm by 4e-7. Decided at assembly from the cells then present;
// set_conductances refuses cells that would decide otherwise.
inline constexpr double kShortRatio = 1e10;

// The largest forward-error bound (residual x condition estimate) a solve may return: beyond
// it the node voltages could be off by more than 0.1 %, and the solve fails with the numbers.
inline constexpr double kAccuracyTolerance = 1e-3;

std::string_view to_string(Ordering ordering);
std::string_view to_string(Mode mode);
StatusOr<Ordering> parse_ordering(std::string_view text);  // "nd" | "backend"

// How a system is assembled and factorized (fixed for its lifetime).
struct SystemOptions {
  Backend backend = Backend::kCholmod;
  // kTransfer needs the boundary last, which only kNestedDissection guarantees; asking for
  // kTransfer with kBackend is refused (the Schur complement would be wrong, not slower).
  Ordering ordering = Ordering::kNestedDissection;
  Mode mode = Mode::kDriven;
  // B; the system and every solve check their estimated memory against it before allocating
  // (estimate_system_bytes). 0 = half of the machine's physical memory.
  double memory_limit = 0.0;
};

// How one block of inputs is solved.
struct SolveOptions {
  int threads = 1;  // OpenMP threads for the loops over input vectors (>= 1; capped at the
                    // hardware's, core/threads.hpp)
  bool node_voltages = false;  // keep every word- and bit-line node voltage (IR-drop map)
};

// Seconds spent in each phase (the latest call of each verb).
struct PhaseTimes {
  double assemble = 0.0;   // topology, merging, pattern, stamping (or re-stamping)
  double analyze = 0.0;    // ordering and symbolic factorization (and the floating-node search
                           // when no branch is 0 S)
  double factorize = 0.0;  // numeric factorization (and the floating-node search when needed)
  double solve = 0.0;      // right-hand sides, triangular solves, currents, residual
};

// How many times each verb ran on this system.
struct Counters {
  int analyses = 0;
  int backend_analyses = 0;  // symbolic analyses the backend itself ran (counted inside it)
  int factorizations = 0;
  int restamps = 0;
  int solves = 0;
};

struct SystemStats {
  Index rows = 0;
  Index cols = 0;
  Mode mode = Mode::kDriven;       // as assembled (KLU in transfer mode assembles driven)
  std::int64_t circuit_nodes = 0;  // ground, R inputs, R*C word, R*C bit, C virtual grounds
  std::int64_t unknowns = 0;       // after merging 0-ohm elements and eliminating driven nodes
  std::int64_t shorts = 0;         // 0-ohm elements merged away
  std::int64_t tiny_shorts = 0;    // resistances below 1/kShortRatio of a cell, merged as shorts
  std::int64_t opens = 0;          // +inf-ohm elements left out
  std::int64_t branches = 0;       // conductance elements stamped (cells included)
  FactorStats factor;              // from the backend, after analyze() / factorize()
};

struct CrossbarSolution {
  // K x C [A], the current through each column's sense (into the virtual ground): the neuron
  // resistor's current V(b(R-1,j)) / R_n,j where R_n is finite and > 0, exactly 0 for an open
  // neuron, and the sum of the column's cell currents (KCL) for an ideal (0-ohm) neuron.
  Eigen::MatrixXd column_current;
  std::vector<Eigen::MatrixXd> word_voltage;  // K matrices R x C [V]: V(w(i,j)), if asked
  std::vector<Eigen::MatrixXd> bit_voltage;   // K matrices R x C [V]: V(b(i,j)), if asked
  // Largest normwise relative residual over the input vectors:
  // ||A x - b||_inf / (||A||_inf ||x||_inf + ||b||_inf), 0 when nothing was solved.
  double relative_residual = 0.0;
  // Forward-error bound: relative_residual / rcond, with rcond the factor's estimate of the
  // reciprocal condition number (LinearSolver::rcond). A solve whose bound exceeds
  // kAccuracyTolerance fails instead of returning numbers (0 when nothing was solved).
  double condition_estimate = 0.0;  // 1 / rcond
  double error_bound = 0.0;

  // Voltage actually across each cell, V(w(i,j)) - V(b(i,j)), for input vector k [V] (needs
  // node_voltages).
  Eigen::MatrixXd cell_voltage(Index k) const {
    XBARNET_ASSERT(k >= 0 && k < static_cast<Index>(word_voltage.size()),
                   "cell_voltage: no node voltages for this input vector");
    return word_voltage[k] - bit_voltage[k];
  }
  // The IR drop of each cell for input vector k: the intended V_i minus the voltage across the
  // cell, V_i - (V(w(i,j)) - V(b(i,j))) [V]; `inputs` is the K x R block that was solved.
  Eigen::MatrixXd ir_drop(Index k, const Eigen::MatrixXd& inputs) const {
    const Eigen::MatrixXd cell = cell_voltage(k);
    return (inputs.row(k).transpose().replicate(1, cell.cols()) - cell).eval();
  }
};

// Currents injected into word- and bit-line nodes [A], positive into the node: one R x C matrix
// per input vector for each (an empty vector means none). A current source J in parallel with
// cell (i,j), flowing from w(i,j) to b(i,j) (a Newton companion model), is word -= J, bit += J.
struct Injection {
  std::vector<Eigen::MatrixXd> word;
  std::vector<Eigen::MatrixXd> bit;
};

// The exact transfer matrix of a tile: column currents I = T V for any input vector V.
struct TransferMatrix {
  Eigen::MatrixXd t;  // C x R [S]
  std::string method;
  // Health: one pseudo-random input vector v (fixed seed, in [0, 1) V) solved directly with
  // the same system: max |T v - I(v)| / max sum |T v| (as for kTransferCheckTolerance), and
  // that solve's relative residual (both -1 when the check was not asked for).
  double check_difference = -1.0;
  double check_residual = -1.0;
  double seconds = 0.0;  // extracting T (or the R solves), and the check
};

class CrossbarSystem {
 public:
  // Validates the crossbar, builds its element list, merges shorts, eliminates driven nodes,
  // declares the pattern and stamps the values.
  static StatusOr<CrossbarSystem> assemble(const netlists::Crossbar& xbar,
                                           const SystemOptions& options = {});

  CrossbarSystem(CrossbarSystem&&) noexcept;
  CrossbarSystem& operator=(CrossbarSystem&&) noexcept;
  ~CrossbarSystem();

  // Fill-reducing ordering and symbolic factorization (pattern only). Once per system. With no
  // 0 S branch, whether a node floats depends on the pattern only: searched here, so that the
  // clones of this system (a layer's tiles) need no search at factorize().
  Status analyze();
  // Checks that no node floats (names one if it does; skipped while no branch is 0 S and
  // analyze() or an earlier factorize() found none), then factorizes the current values.
  Status factorize();
  // Solves for a block of K input vectors (K x R [V]) with the current factorization.
  // `injection` (driven mode only) adds currents into word- and bit-line nodes.
  StatusOr<CrossbarSolution> solve(const Eigen::MatrixXd& inputs, const SolveOptions& options = {},
                                   const Injection* injection = nullptr);
  // The transfer matrix with the current factorization: the Schur complement in transfer mode,
  // R solves with unit inputs otherwise (`threads`: OpenMP threads for those solves). `check`:
  // also solve one pseudo-random input directly and compare (TransferMatrix::check_*); a caller
  // that checks T against a solve of its own (the layer's IR-drop solve) may skip it.
  StatusOr<TransferMatrix> transfer_matrix(int threads = 1, bool check = true);

  // A copy that shares nothing with this system and holds the same pattern, values and
  // analysis: tiles of one shape and parasitic layout clone one analyzed system and re-stamp
  // their cells instead of assembling and analyzing again. The copy must factorize() before it
  // solves; its counters and times start at zero (it ran no verb).
  CrossbarSystem clone() const;

  // Re-stamps new cell conductances (R x C [S]) into the same pattern; factorize() again after.
  // The pattern does not depend on the conductances (a cell of G = 0 keeps its entries).
  Status set_conductances(const Eigen::MatrixXd& conductance);

  const SystemOptions& options() const;
  const SystemStats& stats() const;
  const PhaseTimes& times() const;
  Counters counters() const;
  const SparseMatrix& matrix() const;
  const netlists::Crossbar& crossbar() const;
  // A circuit node name of unknown p (the first node merged into it), e.g. "w3_5".
  std::string unknown_name(std::int64_t p) const;

 private:
  struct Impl;
  explicit CrossbarSystem(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Bytes a system of an R x C tile needs, from its sizes alone: the assembled pattern, the factor
// (nnz(L) of the grid's nested dissection grows as n log n; about 30 entries per unknown at
// 1024 x 1024) and the block of K right-hand sides solved at once (node voltages if asked). An
// upper estimate, measured against the peak resident memory in docs/performance.md.
double estimate_system_bytes(Index rows, Index cols, Index input_vectors, bool node_voltages);

// How solve_crossbar gets the column currents of a block of K input vectors.
enum class SolvePath {
  kAuto,      // the cheaper of the two by the cost model of choose_solve_path()
  kDirect,    // every input through the factor (node voltages need this path)
  kTransfer,  // T once, then I = V T^T; a few inputs are also solved directly to check T
};
std::string_view to_string(SolvePath path);
StatusOr<SolvePath> parse_solve_path(std::string_view text);  // "auto" | "direct" | "transfer"

// Inputs the transfer path also solves directly (the first, middle and last), to check T and to
// report the residual and error bound of real solves.
inline constexpr Index kTransferCheckInputs = 3;
// The largest disagreement of T v with those direct solves, max_j |(T v - I(v))_j| over
// max_j sum_i |T_ji v_i| (the scale of rounding errors, so that inputs whose currents cancel are
// judged fairly), before the transfer path fails; they come from the same factor and agree to
// about 1e-15.
inline constexpr double kTransferCheckTolerance = 1e-8;

struct PathChoice {
  SolvePath path = SolvePath::kDirect;  // kDirect or kTransfer
  // The cost model, in flops, from the sizes alone: a direct solve is a forward and a back
  // substitution through L (4 nnz(L), nnz(L) estimated as in estimate_system_bytes); the
  // transfer path adds the dense boundary block of the factor and its extraction (2 (R+C)^3/3;
  // with KLU, which has no Schur complement, R solves), the check solves, and 2 R C per input.
  double direct_flops = 0.0;
  double transfer_flops = 0.0;
  std::string reason;  // one line for the summary
};
PathChoice choose_solve_path(Index rows, Index cols, Index inputs, bool node_voltages,
                             const SystemOptions& system, SolvePath asked);

struct CrossbarRun {
  CrossbarSolution solution;
  SystemStats stats;
  PhaseTimes times;
  PathChoice path;  // the path taken and why
  // Transfer path: the inputs also solved directly, and the worst disagreement of T v with them
  // (kTransferCheckTolerance; -1 on the direct path). solution's residual and error bound are
  // those of these solves.
  Index checked_inputs = 0;
  double transfer_check = -1.0;
  // The inputs whose node voltages solution.word_voltage / bit_voltage hold, in that order, when
  // they were listed (solve_crossbar's voltage_inputs); empty otherwise.
  std::vector<Index> voltage_inputs;
};

// assemble + analyze + factorize + solve in one call. On the direct path the system is
// assembled in the mode of `system` (both modes solve); on the transfer path in transfer mode
// (driven for KLU, whose T comes from R solves). `path` = kAuto asks choose_solve_path().
// Node voltages: of every input with solve.node_voltages (the direct path), or of the inputs
// listed in `voltage_inputs` (indices into `inputs`), which are then solved once more directly
// with the same factor, on either path.
StatusOr<CrossbarRun> solve_crossbar(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                     const SystemOptions& system = {},
                                     const SolveOptions& solve = {},
                                     SolvePath path = SolvePath::kDirect,
                                     std::span<const Index> voltage_inputs = {});

struct TransferRun {
  TransferMatrix transfer;
  SystemStats stats;
  PhaseTimes times;
};

// assemble (transfer mode) + analyze + factorize + transfer_matrix in one call.
StatusOr<TransferRun> transfer_matrix(const netlists::Crossbar& xbar,
                                      Backend backend = Backend::kCholmod, int threads = 1,
                                      bool check = true);

// The same matrix by R solves with unit input vectors in a driven system (the reference the
// tests compare the Schur complement with).
StatusOr<TransferRun> transfer_matrix_by_solves(const netlists::Crossbar& xbar,
                                                Backend backend = Backend::kCholmod,
                                                int threads = 1);

}  // namespace xbarnet::solver
