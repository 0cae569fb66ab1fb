#include "solver/crossbar_system.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "core/enum.hpp"
#include "core/memory.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "netlists/netlist.hpp"
#include "solver/ordering.hpp"
#include "solver/supernodal.hpp"

namespace xbarnet::solver {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// How far T v is from the currents I(v) of a direct solve of the same input v (1 x R):
// max_j |(T v)_j - I_j| over the scale of the terms, max_j sum_i |T_ji v_i|, which rounding
// errors are relative to. (Against max_j |I_j| instead, an input whose currents cancel, e.g.
// signed inputs in the null space of T, would show rounding noise as an error of order 1.)
double transfer_disagreement(const Eigen::MatrixXd& t, const Eigen::RowVectorXd& v,
                             const Eigen::RowVectorXd& direct) {
  const Eigen::RowVectorXd by_t = v * t.transpose();
  const double scale = (v.cwiseAbs() * t.cwiseAbs().transpose()).maxCoeff();
  const double diff = (by_t - direct).cwiseAbs().maxCoeff();
  return scale > 0.0 ? diff / scale : diff;
}

// Node codes after reduction: >= 0 an unknown, kGround, or an input: kFirstInput - i.
constexpr std::int64_t kGround = -1;
constexpr std::int64_t kFirstInput = -2;
constexpr std::int64_t input_code(Index i) { return kFirstInput - i; }
constexpr bool is_input(std::int64_t code) { return code <= kFirstInput; }
constexpr Index input_of(std::int64_t code) { return kFirstInput - code; }

// Input vectors solved as one block: as many as fit kMaxBlockEntries values (2^24 doubles =
// 128 MiB), but at least kMinBlockInputs (the supernodal block solve runs slabs of 32; fewer
// inputs per block ran 1.6x slower per input), and at most all of them.
constexpr std::int64_t kMaxBlockEntries = std::int64_t{1} << 24;
constexpr Index kMinBlockInputs = 32;
Index block_inputs(std::int64_t unknowns, Index inputs) {
  const Index fit = kMaxBlockEntries / std::max<std::int64_t>(unknowns, 1);
  return std::clamp<Index>(std::max(fit, kMinBlockInputs), 1, std::max<Index>(inputs, 1));
}

// Entries of the Cholesky factor per unknown for a tile of n unknowns under the grid's nested
// dissection (nnz(L) grows as n log n: about 30 per unknown at 1024 x 1024), for the memory
// estimate and the cost model of the solve path.
double factor_entries_per_unknown(double n) { return 2.0 + 1.4 * std::log2(std::max(n, 2.0)); }

// The estimate of estimate_system_bytes() against a limit (0 = the default), as a Status.
Status check_memory(Index rows, Index cols, Index vectors, bool node_voltages, double limit);

class DisjointSets {
 public:
  explicit DisjointSets(std::int64_t n) : parent_(static_cast<size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), std::int64_t{0});
  }
  std::int64_t find(std::int64_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  // Keeps the smaller id as root, so ground (0) and inputs (1..R) stay roots of their groups.
  void unite(std::int64_t a, std::int64_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (a > b) std::swap(a, b);
    parent_[b] = a;
  }

 private:
  std::vector<std::int64_t> parent_;
};

struct Branch {
  std::int64_t a;  // node codes of the two ends
  std::int64_t b;
  double g;             // conductance [S]
  std::int64_t pos_ab;  // index of A(a,b) in the value array, -1 unless both ends are unknowns
  std::int64_t pos_ba;  // index of A(b,a)
};

// The backend of a system; copying it clones the backend's analysis (LinearSolver::clone), so
// that CrossbarSystem::clone() is the implicit copy of Impl.
class BackendHandle {
 public:
  BackendHandle() = default;
  explicit BackendHandle(std::unique_ptr<LinearSolver> s) : solver_(std::move(s)) {}
  BackendHandle(const BackendHandle& o) : solver_(o.solver_ ? o.solver_->clone() : nullptr) {}
  BackendHandle& operator=(const BackendHandle& o) {
    if (this != &o) solver_ = o.solver_ ? o.solver_->clone() : nullptr;
    return *this;
  }
  BackendHandle(BackendHandle&&) noexcept = default;
  BackendHandle& operator=(BackendHandle&&) noexcept = default;
  ~BackendHandle() = default;
  LinearSolver* operator->() const { return solver_.get(); }

 private:
  std::unique_ptr<LinearSolver> solver_;
};

}  // namespace

struct CrossbarSystem::Impl {
  netlists::Crossbar xbar;
  SystemOptions options;
  // Assembled in transfer mode: the input nodes and the per-column virtual grounds stay unknowns
  // (the "boundary"), numbered last, for the Schur complement; nothing is driven.
  bool schur = false;
  netlists::NodeNumbering nodes{0, 0};
  std::int64_t interior = 0;  // unknowns before the boundary (all of them in driven mode)
  BackendHandle backend;

  std::vector<std::int64_t> code;            // node id -> node code
  std::vector<std::int64_t> representative;  // unknown -> first circuit node id merged into it
  std::vector<Branch> branches;
  std::int64_t cell_begin = 0;         // branches[cell_begin + i*C + j] is cell (i,j)
  std::vector<std::int64_t> diag_pos;  // unknown p -> index of A(p,p)

  SparseMatrix a;
  double a_norm_inf = 0.0;
  // RHS couplings to input sources (driven mode): b(p) += g * V_i.
  struct Coupling {
    std::int64_t p;
    Index input;
    double g;
  };
  std::vector<Coupling> couplings;
  std::vector<char> anchored;  // unknown p has a branch with g > 0 to a driven node
  // Branches with g = 0 between distinct nodes (cells programmed to 0 S), from stamp(). While
  // there are none, whether a node floats depends on the pattern only: once check_floating()
  // has passed with none, re-stamped values need no new search.
  std::int64_t zero_branches = 0;
  bool connected_when_all_conduct = false;
  // Column j's neuron was merged as a short (0 ohm, or too small to tell from one): its current
  // is then the KCL sum of the column's cells, not v_b / R_n.
  std::vector<char> neuron_merged;
  // The tiny-resistance decision (kShortRatio): the smallest conductance merged and the
  // largest finite one kept; a re-stamp that would move the threshold across either is refused.
  double merged_min_g = 0.0;
  double kept_max_g = 0.0;

  bool analyzed = false;
  bool factorized = false;
  // Transfer mode: S + D, the trailing (R+C) x (R+C) block of the factor (computed on demand).
  std::optional<Eigen::MatrixXd> boundary_block;
  SystemStats stats;
  PhaseTimes times;
  Counters counters;

  Index rows() const { return xbar.rows(); }
  Index cols() const { return xbar.cols(); }

  Status build_topology(const netlists::Netlist& net);
  std::vector<std::int64_t> unknown_ordering() const;
  void build_pattern();
  void stamp();
  Status check_floating() const;
  StatusOr<const Eigen::MatrixXd*> schur_block();
  // The failure for a solution with a NaN or Inf: names the first such unknown's node. `xt` is
  // node-major: xt(k, p) is unknown p for input vector k0 + k of the block.
  Status not_finite(const Eigen::MatrixXd& xt, Index k0, const char* what) const {
    for (Index p = 0; p < xt.cols(); ++p) {
      for (Index k = 0; k < xt.rows(); ++k) {
        if (!std::isfinite(xt(k, p))) {
          return {StatusCode::kBackendFailure,
                  fmt::format("the {} at node {} is {} (input vector {}): the solve overflowed "
                              "double precision (inputs, conductances or their ratios too large)",
                              what, nodes.name(representative[p]), xt(k, p), k0 + k)};
        }
      }
    }
    return Status::ok();
  }
  // The voltages of a node for the input vectors of a block (kc values [V]), without a copy:
  // `xt` is the node-major solution, `v` the block's inputs (kc x R) and `zeros` kc zeros.
  Eigen::Ref<const Eigen::VectorXd> voltages(std::int64_t node_code, const Eigen::MatrixXd& xt,
                                             const Eigen::MatrixXd& v,
                                             const Eigen::VectorXd& zeros) const {
    if (node_code >= 0) {
      if (node_code < interior) return xt.col(node_code);
      const std::int64_t slot = node_code - interior;  // boundary: held by the external sources
      if (slot < rows()) return v.col(slot);
      return zeros;
    }
    if (node_code == kGround) return zeros;
    return v.col(input_of(node_code));
  }
};

Status CrossbarSystem::Impl::build_topology(const netlists::Netlist& net) {
  using netlists::ElementKind;
  const Index r = rows();
  const Index c = cols();
  nodes = net.nodes;
  const std::int64_t n_ids = nodes.count();
  DisjointSets sets(n_ids);
  std::int64_t shorts = 0;
  std::int64_t opens = 0;
  std::int64_t tiny = 0;
  // A resistance too small to tell from a short against the cells is merged as one
  // (kShortRatio in crossbar_system.hpp): 1/r overflows, or exceeds kShortRatio times the
  // tile's largest cell conductance.
  double g_cell_max = 0.0;
  for (std::int64_t k = net.first_cell; k < net.first_bitline; ++k) {
    g_cell_max = std::max(g_cell_max, net.elements[k].value);
  }
  neuron_merged.assign(static_cast<size_t>(c), 0);
  merged_min_g = std::numeric_limits<double>::infinity();
  kept_max_g = 0.0;
  auto is_tiny = [&](double ohms) {
    const double g = 1.0 / ohms;
    return !std::isfinite(g) || (g_cell_max > 0.0 && g > kShortRatio * g_cell_max);
  };
  for (const netlists::Element& e : net.elements) {
    if (e.kind == ElementKind::kSense) {
      // The ammeter is a 0 V source: in driven mode it ties the virtual ground to ground; in
      // transfer mode the virtual ground stays a boundary unknown.
      if (!schur) sets.unite(e.a, e.b);
      continue;
    }
    if (!e.is_resistance()) continue;
    if (e.value == 0.0) {
      sets.unite(e.a, e.b);
      ++shorts;
      if (e.kind == ElementKind::kNeuron) neuron_merged[net.position(e).second] = 1;
    } else if (std::isinf(e.value)) {
      ++opens;
    } else if (is_tiny(e.value)) {
      sets.unite(e.a, e.b);
      ++tiny;
      merged_min_g = std::min(merged_min_g, 1.0 / e.value);
      if (e.kind == ElementKind::kNeuron) neuron_merged[net.position(e).second] = 1;
    } else {
      kept_max_g = std::max(kept_max_g, 1.0 / e.value);
    }
  }

  // Driven groups: ground and the inputs are the smallest ids, hence the roots of their groups.
  // Two of them in one group would be a loop of ideal sources.
  for (Index i = 0; i < r; ++i) {
    if (sets.find(nodes.input(i)) != nodes.input(i)) {
      return Status::invalid_argument(
          fmt::format("input source {} is shorted to {} by 0-ohm elements",
                      netlists::input_node_name(i), nodes.name(sets.find(nodes.input(i)))));
    }
  }
  // Boundary slots (transfer mode): input i -> i, virtual ground j -> R + j.
  std::vector<std::int64_t> boundary_of_root;
  if (schur) {
    boundary_of_root.assign(static_cast<size_t>(n_ids), -1);
    for (Index i = 0; i < r; ++i) boundary_of_root[nodes.input(i)] = i;
    for (Index j = 0; j < c; ++j) {
      const std::int64_t root = sets.find(nodes.virtual_ground(j));
      if (boundary_of_root[root] >= 0) {
        return Status::invalid_argument(fmt::format(
            "virtual ground of column {} is shorted to {} by 0-ohm elements", j, nodes.name(root)));
      }
      boundary_of_root[root] = r + j;
    }
  }
  code.assign(static_cast<size_t>(n_ids), 0);
  representative.clear();
  std::vector<std::int64_t> unknown_of_root(static_cast<size_t>(n_ids), -1);
  for (std::int64_t id = 0; id < n_ids; ++id) {
    const std::int64_t root = sets.find(id);
    if (schur) {
      if (id == 0) {  // the common ground is not used: every column has its own
        code[id] = kGround;
        continue;
      }
      if (boundary_of_root[root] >= 0) continue;  // numbered after the interior
    } else if (root == 0) {
      code[id] = kGround;
      continue;
    } else if (root <= r) {
      code[id] = input_code(root - 1);
      continue;
    }
    if (unknown_of_root[root] < 0) {
      unknown_of_root[root] = static_cast<std::int64_t>(representative.size());
      representative.push_back(id);
    }
    code[id] = unknown_of_root[root];
  }
  interior = static_cast<std::int64_t>(representative.size());
  if (schur) {
    for (Index i = 0; i < r; ++i) representative.push_back(nodes.input(i));
    for (Index j = 0; j < c; ++j) representative.push_back(nodes.virtual_ground(j));
    for (std::int64_t id = 0; id < n_ids; ++id) {
      const std::int64_t slot = boundary_of_root[sets.find(id)];
      if (slot >= 0) code[id] = interior + slot;
    }
  }
  stats.rows = r;
  stats.cols = c;
  stats.mode = schur ? Mode::kTransfer : Mode::kDriven;
  stats.circuit_nodes = n_ids;
  stats.unknowns = static_cast<std::int64_t>(representative.size());
  stats.shorts = shorts;
  stats.tiny_shorts = tiny;
  stats.opens = opens;

  // Branches: every finite, non-zero resistance, and every cell (even G = 0, so that the
  // pattern does not depend on the programmed values). Cells are contiguous in the netlist.
  branches.clear();
  branches.reserve(net.elements.size());
  for (const netlists::Element& e : net.elements) {
    if (e.kind == ElementKind::kCell) {
      if (e.a == nodes.word(0, 0)) cell_begin = static_cast<std::int64_t>(branches.size());
      branches.push_back({code[e.a], code[e.b], e.value, -1, -1});
    } else if (e.is_resistance() && e.value > 0.0 && std::isfinite(e.value) && !is_tiny(e.value)) {
      branches.push_back({code[e.a], code[e.b], 1.0 / e.value, -1, -1});
    }
  }
  stats.branches = static_cast<std::int64_t>(branches.size());
  return Status::ok();
}

void CrossbarSystem::Impl::build_pattern() {
  // Compressed columns straight from the branches, by counting (O(nnz), no triplet list and no
  // transposed copy): every diagonal entry, and both entries of each branch between two distinct
  // unknowns; each column is then sorted and any repeats merged (a crossbar has no parallel
  // branches, whatever its shorts merge, but the pattern stays right for any branch list).
  const std::int64_t n = stats.unknowns;
  std::vector<std::int64_t> start(static_cast<size_t>(n + 1), 0);
  for (std::int64_t p = 0; p < n; ++p) start[p + 1] = 1;
  for (const Branch& br : branches) {
    if (br.a >= 0 && br.b >= 0 && br.a != br.b) {
      ++start[br.a + 1];
      ++start[br.b + 1];
    }
  }
  for (std::int64_t p = 0; p < n; ++p) start[p + 1] += start[p];
  std::vector<std::int64_t> rows(static_cast<size_t>(start[n]));
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
  for (std::int64_t p = 0; p < n; ++p) rows[fill[p]++] = p;
  for (const Branch& br : branches) {
    if (br.a >= 0 && br.b >= 0 && br.a != br.b) {
      rows[fill[br.b]++] = br.a;
      rows[fill[br.a]++] = br.b;
    }
  }
  // Sorted and merged in place: column col keeps rows[start[col] .. start[col] + kept[col]).
  std::vector<std::int64_t> kept(static_cast<size_t>(n));
  std::int64_t nnz = 0;
  for (std::int64_t col = 0; col < n; ++col) {
    const auto first = rows.begin() + start[col];
    const auto last = rows.begin() + start[col + 1];
    std::sort(first, last);
    kept[col] = std::unique(first, last) - first;
    nnz += kept[col];
  }
  a.resize(n, n);
  a.resizeNonZeros(nnz);
  std::int64_t* outer = a.outerIndexPtr();
  std::int64_t* inner = a.innerIndexPtr();
  std::int64_t q = 0;
  for (std::int64_t col = 0; col < n; ++col) {
    outer[col] = q;
    q = std::copy_n(rows.begin() + start[col], kept[col], inner + q) - inner;
  }
  outer[n] = q;
  std::fill(a.valuePtr(), a.valuePtr() + nnz, 0.0);

  auto position = [&](std::int64_t row, std::int64_t col) -> std::int64_t {
    const std::int64_t* begin = a.innerIndexPtr() + a.outerIndexPtr()[col];
    const std::int64_t* end = a.innerIndexPtr() + a.outerIndexPtr()[col + 1];
    const std::int64_t* it = std::lower_bound(begin, end, row);
    XBARNET_ASSERT(it != end && *it == row, "a branch's entry is missing from the pattern");
    return it - a.innerIndexPtr();
  };
  diag_pos.resize(static_cast<size_t>(n));
  for (std::int64_t p = 0; p < n; ++p) diag_pos[p] = position(p, p);
  for (Branch& br : branches) {
    if (br.a >= 0 && br.b >= 0 && br.a != br.b) {
      br.pos_ab = position(br.a, br.b);
      br.pos_ba = position(br.b, br.a);
    }
  }
}

void CrossbarSystem::Impl::stamp() {
  double* values = a.valuePtr();
  std::fill(values, values + a.nonZeros(), 0.0);
  couplings.clear();
  anchored.assign(static_cast<size_t>(stats.unknowns), 0);
  zero_branches = 0;
  for (const Branch& br : branches) {
    if (br.a == br.b) continue;  // both ends merged: carries no current
    if (br.g == 0.0) ++zero_branches;
    if (br.a >= 0) values[diag_pos[br.a]] += br.g;
    if (br.b >= 0) values[diag_pos[br.b]] += br.g;
    if (br.pos_ab >= 0) {
      values[br.pos_ab] -= br.g;
      values[br.pos_ba] -= br.g;
      continue;
    }
    // One end is an unknown and the other driven (ground or an input), or both are driven.
    const std::int64_t p = br.a >= 0 ? br.a : br.b;
    const std::int64_t fixed = br.a >= 0 ? br.b : br.a;
    if (p < 0) continue;
    if (br.g > 0.0) anchored[p] = 1;
    if (is_input(fixed)) couplings.push_back({p, input_of(fixed), br.g});
  }
  // Transfer mode: the boundary nodes are held by the external sources (anchored), and a
  // positive diagonal D on them makes the whole matrix definite. D only adds to the diagonal of
  // the Schur complement S + D, so the input-to-output block that gives T is exact.
  for (std::int64_t k = interior; k < stats.unknowns; ++k) {
    anchored[k] = 1;
    double& d = values[diag_pos[k]];
    d += d > 0.0 ? d : 1.0;
  }
  // ||A||_inf: A is symmetric, so the largest absolute column sum.
  a_norm_inf = 0.0;
  for (std::int64_t col = 0; col < a.outerSize(); ++col) {
    double sum = 0.0;
    for (std::int64_t k = a.outerIndexPtr()[col]; k < a.outerIndexPtr()[col + 1]; ++k) {
      sum += std::abs(values[k]);
    }
    a_norm_inf = std::max(a_norm_inf, sum);
  }
}

// Unknowns in the order of the grid's nested dissection; an unknown that spans several grid
// nodes (merged by 0-ohm wires) is placed at its last node, i.e. with the latest separator.
std::vector<std::int64_t> CrossbarSystem::Impl::unknown_ordering() const {
  // Leaves of 8 cells. Larger leaves (32 or 64 cells) made the factorization 6-13 % faster at
  // 256 to 1024 (fewer, larger supernodes) but filled more (765k against 605k entries at
  // 128 x 128, more than CHOLMOD's AMD) and were slower at 64 x 64: kept at 8
  // (docs/performance.md).
  const std::vector<std::int64_t> grid = grid_nested_dissection(rows(), cols());
  std::vector<char> placed(static_cast<size_t>(stats.unknowns), 0);
  std::vector<std::int64_t> order;
  order.reserve(static_cast<size_t>(stats.unknowns));
  for (auto it = grid.rbegin(); it != grid.rend(); ++it) {
    const std::int64_t cell = *it / 2;
    const Index i = cell / cols();
    const Index j = cell % cols();
    const std::int64_t p = (*it % 2 == 0) ? code[nodes.word(i, j)] : code[nodes.bit(i, j)];
    if (p >= 0 && p < interior && !placed[p]) {
      placed[p] = 1;
      order.push_back(p);
    }
  }
  std::reverse(order.begin(), order.end());
  for (std::int64_t k = interior; k < stats.unknowns; ++k) order.push_back(k);  // boundary last
  return order;
}

Status CrossbarSystem::Impl::check_floating() const {
  // Breadth-first search from every unknown with a conducting branch to a driven node, along
  // conducting branches (non-zero off-diagonal entries). What is not reached floats.
  const std::int64_t n = stats.unknowns;
  std::vector<char> reached(anchored.begin(), anchored.end());
  std::vector<std::int64_t> queue;
  queue.reserve(static_cast<size_t>(n));
  for (std::int64_t p = 0; p < n; ++p) {
    if (reached[p]) queue.push_back(p);
  }
  for (size_t head = 0; head < queue.size(); ++head) {
    const std::int64_t col = queue[head];
    for (std::int64_t k = a.outerIndexPtr()[col]; k < a.outerIndexPtr()[col + 1]; ++k) {
      const std::int64_t row = a.innerIndexPtr()[k];
      if (row != col && a.valuePtr()[k] != 0.0 && !reached[row]) {
        reached[row] = 1;
        queue.push_back(row);
      }
    }
  }
  if (static_cast<std::int64_t>(queue.size()) == n) return Status::ok();
  std::int64_t first = -1;
  std::int64_t count = 0;
  for (std::int64_t p = 0; p < n; ++p) {
    if (!reached[p]) {
      if (first < 0) first = p;
      ++count;
    }
  }
  return {StatusCode::kFloatingNode,
          fmt::format("node {} has no conducting path to an input source or to ground ({} "
                      "floating unknown(s) in all); connect it or give the open elements "
                      "(+inf ohm) or zero conductances around it a finite value",
                      nodes.name(representative[first]), count)};
}

StatusOr<const Eigen::MatrixXd*> CrossbarSystem::Impl::schur_block() {
  if (!boundary_block) {
    // Only the input columns are used (T and the boundary's drive in solve()).
    StatusOr<Eigen::MatrixXd> s = backend->trailing_schur_complement(rows() + cols(), rows());
    if (!s.is_ok()) return s.status();
    boundary_block = std::move(s).value();
  }
  return &*boundary_block;
}

// ------------------------------------------------------------------------------ public API

std::string_view to_string(Ordering ordering) {
  return ordering == Ordering::kNestedDissection ? "nd" : "backend";
}

std::string_view to_string(Mode mode) { return mode == Mode::kDriven ? "driven" : "transfer"; }

StatusOr<Ordering> parse_ordering(std::string_view text) {
  return core::parse_enum("ordering", text,
                          std::array{Ordering::kNestedDissection, Ordering::kBackend});
}

CrossbarSystem::CrossbarSystem(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CrossbarSystem::CrossbarSystem(CrossbarSystem&&) noexcept = default;
CrossbarSystem& CrossbarSystem::operator=(CrossbarSystem&&) noexcept = default;
CrossbarSystem::~CrossbarSystem() = default;

StatusOr<CrossbarSystem> CrossbarSystem::assemble(const netlists::Crossbar& xbar,
                                                  const SystemOptions& options) {
  const auto t0 = Clock::now();
  if (Status s = netlists::validate(xbar); !s.is_ok()) return s;
  if (Status s = check_memory(xbar.rows(), xbar.cols(), 1, false, options.memory_limit);
      !s.is_ok()) {
    return s;
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->backend = BackendHandle(make_linear_solver(options.backend));
  impl->schur = options.mode == Mode::kTransfer && impl->backend->has_schur_complement();
  if (impl->schur && options.ordering != Ordering::kNestedDissection) {
    return Status::invalid_argument(
        "ordering = backend in transfer mode: the Schur complement needs the input and "
        "virtual-ground nodes eliminated last, which only ordering = nd guarantees");
  }
  impl->xbar = xbar;
  if (Status s = impl->build_topology(netlists::build_netlist(xbar)); !s.is_ok()) return s;
  // The boundary's own factor is never needed: a backend that can keeps its Schur complement
  // instead (T is read from it, and solves take the boundary as given).
  if (impl->schur) impl->backend->keep_schur_complement(impl->stats.unknowns - impl->interior);
  impl->build_pattern();
  impl->stamp();
  impl->times.assemble = seconds_since(t0);
  return CrossbarSystem(std::move(impl));
}

Status CrossbarSystem::analyze() {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  m.analyzed = false;
  m.factorized = false;
  m.boundary_block.reset();
  if (m.stats.unknowns > 0) {
    const std::vector<std::int64_t> order = m.options.ordering == Ordering::kNestedDissection
                                                ? m.unknown_ordering()
                                                : std::vector<std::int64_t>{};
    if (Status s = m.backend->analyze(m.a, order); !s.is_ok()) return s;
    m.stats.factor = m.backend->stats();
  } else {
    m.stats.factor = {};
    m.stats.factor.method = "no unknowns (every node driven)";
  }
  // Without zero branches, whether a node floats depends on the pattern only: searched here
  // once, so that the systems cloned from this one (a layer's tiles) skip it at factorize().
  if (m.zero_branches == 0 && !m.connected_when_all_conduct) {
    m.connected_when_all_conduct = m.check_floating().is_ok();
  }
  m.analyzed = true;
  ++m.counters.analyses;
  m.times.analyze = seconds_since(t0);
  return Status::ok();
}

Status CrossbarSystem::factorize() {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  XBARNET_ASSERT(m.analyzed, "factorize() before analyze()");
  if (!m.analyzed) return {StatusCode::kFailedPrecondition, "factorize() called before analyze()"};
  m.factorized = false;
  m.boundary_block.reset();
  if (m.zero_branches > 0 || !m.connected_when_all_conduct) {
    if (Status s = m.check_floating(); !s.is_ok()) return s;
    m.connected_when_all_conduct = m.zero_branches == 0;
  }
  if (m.stats.unknowns > 0) {
    Status s = m.backend->factorize(m.a);
    if (!s.is_ok()) {
      const std::int64_t p = m.backend->failed_index();
      if (p >= 0 && p < m.stats.unknowns) {
        return {s.code(), fmt::format("{} (unknown {}, node {})", s.message(), p,
                                      m.nodes.name(m.representative[p]))};
      }
      return s;
    }
    m.stats.factor = m.backend->stats();
  }
  m.factorized = true;
  ++m.counters.factorizations;
  m.times.factorize = seconds_since(t0);
  return Status::ok();
}

StatusOr<CrossbarSolution> CrossbarSystem::solve(const Eigen::MatrixXd& inputs,
                                                 const SolveOptions& options,
                                                 const Injection* injection) {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  XBARNET_ASSERT(m.factorized, "solve() before factorize() (or after set_conductances())");
  if (!m.factorized) {
    return Status{StatusCode::kFailedPrecondition,
                  "solve() called before factorize() (or after set_conductances())"};
  }
  if (Status s = netlists::validate_inputs(m.xbar, inputs); !s.is_ok()) return s;
  if (options.threads < 1) {
    return Status::invalid_argument(fmt::format("threads = {}: must be >= 1", options.threads));
  }
  const Index r = m.rows();
  const Index c = m.cols();
  const Index n_vec = inputs.rows();
  if (Status s = check_memory(r, c, n_vec, options.node_voltages, m.options.memory_limit);
      !s.is_ok()) {
    return s;
  }
  if (injection != nullptr) {
    if (m.schur) {
      return Status::invalid_argument(
          "current injection needs a driven system (mode = driven); this one is in transfer mode");
    }
    for (const auto* list : {&injection->word, &injection->bit}) {
      if (!list->empty() && static_cast<Index>(list->size()) != n_vec) {
        return Status::invalid_argument(
            fmt::format("injection has {} matrices for {} input vectors", list->size(), n_vec));
      }
      for (const Eigen::MatrixXd& j : *list) {
        if (j.rows() != r || j.cols() != c || !j.allFinite()) {
          return Status::invalid_argument(
              fmt::format("injection matrix is {}x{}: it must be {}x{} [A], all finite", j.rows(),
                          j.cols(), r, c));
        }
      }
    }
  }
  const std::int64_t n = m.stats.unknowns;
  const int threads = core::capped_threads(options.threads);
  const Eigen::MatrixXd* boundary = nullptr;
  // Transfer mode with the boundary's Schur complement kept: the boundary unknowns are given.
  const bool given_boundary = m.schur && n > 0 && m.backend->schur_complement_kept();
  if (m.schur && !given_boundary) {
    StatusOr<const Eigen::MatrixXd*> b = m.schur_block();
    if (!b.is_ok()) return b.status();
    boundary = b.value();
  }
  auto injected = [&](const std::vector<Eigen::MatrixXd>& list, Index k, Index i, Index j) {
    return list.empty() ? 0.0 : list[k](i, j);
  };

  CrossbarSolution sol;
  sol.column_current.setZero(n_vec, c);
  if (options.node_voltages) {
    sol.word_voltage.assign(static_cast<size_t>(n_vec), Eigen::MatrixXd(r, c));
    sol.bit_voltage.assign(static_cast<size_t>(n_vec), Eigen::MatrixXd(r, c));
  }
  std::vector<double> residual(static_cast<size_t>(n_vec), 0.0);

  // Blocks are node-major: xt(k, p) is unknown p for input vector k0 + k, so that the values of
  // one node for the whole block are contiguous. The supernodal block solve gathers and scatters
  // them whole, the residual is one dense-times-sparse product, and currents and voltages are
  // vector operations over the block. Blocks are bounded (block_inputs), so memory
  // stays bounded whatever the number of input vectors (a 1024 x 1024 tile has 2M unknowns).
  const Index chunk = block_inputs(n, n_vec);
  for (Index k0 = 0; k0 < n_vec; k0 += chunk) {
    const Index kc = std::min(chunk, n_vec - k0);
    const Eigen::MatrixXd v = inputs.middleRows(k0, kc);
    Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(kc, n);
    if (given_boundary) {
      // The boundary at its voltages (inputs v, virtual grounds 0 V), given to the solve: the
      // interior solves A_II x_I = -A_IB v_B.
      rhs.middleCols(m.interior, r) = v;
    } else if (m.schur) {
      // Drive the boundary through the same factor: with M = [A_II A_IB; A_BI A_BB + D] and
      // (S + D) the trailing block, M [x_I; v_B] = [0; (S + D) v_B] has x_I = the driven
      // solution. The virtual grounds are at 0 V, so only the input columns of (S + D) enter.
      rhs.rightCols(r + c) = v * boundary->leftCols(r).transpose();
    } else {
      // b(p) = sum of g * V_i over the branches from p to input i.
      for (const Impl::Coupling& cp : m.couplings) rhs.col(cp.p) += cp.g * v.col(cp.input);
    }
    if (injection != nullptr) {
      for (Index i = 0; i < r; ++i) {
        for (Index j = 0; j < c; ++j) {
          const std::int64_t pw = m.code[m.nodes.word(i, j)];
          const std::int64_t pb = m.code[m.nodes.bit(i, j)];
          for (Index k = 0; k < kc; ++k) {
            if (pw >= 0) rhs(k, pw) += injected(injection->word, k0 + k, i, j);
            if (pb >= 0) rhs(k, pb) += injected(injection->bit, k0 + k, i, j);
          }
        }
      }
    }
    Eigen::MatrixXd x = rhs;
    if (n > 0) {
      if (Status s = m.backend->solve_node_major(x, threads); !s.is_ok()) return s;
      if (!x.allFinite()) return m.not_finite(x, k0, "node voltage");
    }
    // Per-thread accumulators and a zero vector, allocated here: nothing inside the parallel
    // loops allocates (or throws).
    const Eigen::VectorXd zeros = Eigen::VectorXd::Zero(kc);
    std::vector<Eigen::VectorXd> accumulator(static_cast<size_t>(threads), zeros);
    auto node = [&](std::int64_t id) { return m.voltages(m.code[id], x, v, zeros); };
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index j = 0; j < c; ++j) {
      const double rn = m.xbar.r_neuron(j);
      if (std::isinf(rn)) continue;  // an open neuron carries no current, exactly
      if (rn > 0.0 && !m.neuron_merged[j]) {
        // The neuron resistor's current; vg(j) is at 0 V.
        sol.column_current.block(k0, j, kc, 1) = node(m.nodes.bit(r - 1, j)) / rn;
        continue;
      }
      // Ideal neuron: KCL on the column's bit-line net (cells and injections into it; its top
      // end is open, so this is exactly the current into the virtual ground).
      Eigen::VectorXd& current = accumulator[static_cast<size_t>(omp_get_thread_num())];
      current.setZero();
      for (Index i = 0; i < r; ++i) {
        current += m.xbar.conductance(i, j) * (node(m.nodes.word(i, j)) - node(m.nodes.bit(i, j)));
        if (injection != nullptr) {
          for (Index k = 0; k < kc; ++k) current(k) += injected(injection->bit, k0 + k, i, j);
        }
      }
      sol.column_current.block(k0, j, kc, 1) = current;
    }
    if (options.node_voltages) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (Index i = 0; i < r; ++i) {
        for (Index j = 0; j < c; ++j) {
          const Eigen::Ref<const Eigen::VectorXd> vw = node(m.nodes.word(i, j));
          const Eigen::Ref<const Eigen::VectorXd> vb = node(m.nodes.bit(i, j));
          for (Index k = 0; k < kc; ++k) {
            sol.word_voltage[k0 + k](i, j) = vw(k);
            sol.bit_voltage[k0 + k](i, j) = vb(k);
          }
        }
      }
    }
    if (n > 0) {
      // Transfer mode: the boundary is held at its exact voltages in the residual, so its
      // interior rows check the driven solution and its boundary rows check the trailing block
      // (S + D) the right-hand side came from against the matrix itself. With a given boundary
      // only the interior rows are equations of the solve (the boundary's are its sources').
      if (m.schur) {
        x.middleCols(m.interior, r) = v;
        x.rightCols(c).setZero();
      }
      // ||A x - b||_inf per input: A is symmetric, so (A x)^T = x^T A, column by column of A.
      // The norms of x and b are taken column by column too (contiguous K-vectors).
      // (Plain loops over the K values: with one input vector, Eigen's per-column expressions
      // cost several times the arithmetic.)
      Eigen::VectorXd worst = Eigen::VectorXd::Zero(kc);
      Eigen::VectorXd x_norm = Eigen::VectorXd::Zero(kc);
      Eigen::VectorXd b_norm = Eigen::VectorXd::Zero(kc);
      Eigen::VectorXd row(kc);
      const double* xd = x.data();
      const double* bd = rhs.data();
      const std::int64_t equations = given_boundary ? m.interior : n;
      for (std::int64_t col = 0; col < equations; ++col) {
        const double* b_col = bd + col * kc;
        const double* x_col = xd + col * kc;
        for (Index k = 0; k < kc; ++k) row[k] = -b_col[k];
        for (std::int64_t q = m.a.outerIndexPtr()[col]; q < m.a.outerIndexPtr()[col + 1]; ++q) {
          const double a = m.a.valuePtr()[q];
          const double* xq = xd + m.a.innerIndexPtr()[q] * kc;
          for (Index k = 0; k < kc; ++k) row[k] += a * xq[k];
        }
        for (Index k = 0; k < kc; ++k) {
          worst[k] = std::max(worst[k], std::abs(row[k]));
          x_norm[k] = std::max(x_norm[k], std::abs(x_col[k]));
          b_norm[k] = std::max(b_norm[k], std::abs(b_col[k]));
        }
      }
      for (Index k = 0; k < kc; ++k) {
        const double denom = m.a_norm_inf * x_norm(k) + b_norm(k);
        residual[k0 + k] = denom > 0.0 ? worst(k) / denom : 0.0;
      }
    }
  }
  sol.relative_residual = *std::max_element(residual.begin(), residual.end());
  if (n > 0) {
    const double rc = m.backend->rcond();
    sol.condition_estimate = rc > 0.0 ? 1.0 / rc : std::numeric_limits<double>::infinity();
    sol.error_bound = sol.relative_residual * sol.condition_estimate;
    if (!(sol.error_bound <= kAccuracyTolerance) && sol.relative_residual > 0.0) {
      return Status{StatusCode::kSingular,
                    fmt::format("the solve is not accurate enough: relative residual {:.3e} x "
                                "condition estimate {:.3e} = error bound {:.3e} > tolerance {:g} "
                                "(the circuit's conductances span too wide a range)",
                                sol.relative_residual, sol.condition_estimate, sol.error_bound,
                                kAccuracyTolerance)};
    }
  }
  ++m.counters.solves;
  m.times.solve = seconds_since(t0);
  return sol;
}

StatusOr<TransferMatrix> CrossbarSystem::transfer_matrix(int threads, bool check) {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  XBARNET_ASSERT(m.factorized, "transfer_matrix() before factorize()");
  if (!m.factorized) {
    return Status{StatusCode::kFailedPrecondition, "transfer_matrix() called before factorize()"};
  }
  const Index r = m.rows();
  const Index c = m.cols();
  TransferMatrix out;
  if (m.schur) {
    StatusOr<const Eigen::MatrixXd*> s = m.schur_block();
    if (!s.is_ok()) return s.status();
    // Rows R..R+C-1 of S are the virtual grounds, columns 0..R-1 the inputs. The current the
    // network delivers into virtual ground j is minus the current injected there.
    out.t = -s.value()->block(r, 0, c, r);
    out.method = fmt::format("Schur complement onto {} boundary nodes", r + c);
    if (!out.t.allFinite()) {
      return Status{StatusCode::kBackendFailure,
                    "the transfer matrix is not finite (NaN or Inf): the circuit's conductances "
                    "span more than double precision can hold"};
    }
  } else {
    SolveOptions so;
    so.threads = threads;
    StatusOr<CrossbarSolution> unit = solve(Eigen::MatrixXd::Identity(r, r), so);
    if (!unit.is_ok()) return unit.status();
    out.t = unit.value().column_current.transpose();
    out.method = fmt::format("{} solves with unit inputs", r);
  }
  if (!check) {
    out.seconds = seconds_since(t0);
    return out;
  }
  // Health: T against a direct solve of one pseudo-random input with the same system.
  core::Rng rng(0x7a11e5);
  Eigen::MatrixXd v(1, r);
  for (Index i = 0; i < r; ++i) v(0, i) = core::unit_uniform(rng);
  StatusOr<CrossbarSolution> direct = solve(v);
  if (!direct.is_ok()) return direct.status();
  out.check_difference =
      transfer_disagreement(out.t, v.row(0), direct.value().column_current.row(0));
  out.check_residual = direct.value().relative_residual;
  out.seconds = seconds_since(t0);
  return out;
}

Status CrossbarSystem::set_conductances(const Eigen::MatrixXd& conductance) {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  netlists::Crossbar candidate = m.xbar;
  candidate.conductance = conductance;
  if (Status s = netlists::validate(candidate); !s.is_ok()) return s;
  // Which resistances are merged as shorts was decided from the cells at assembly; new cells
  // that would decide otherwise need a new assembly (the pattern itself changes).
  const double threshold = kShortRatio * conductance.maxCoeff();
  const bool changes = conductance.maxCoeff() > 0.0
                           ? (threshold >= m.merged_min_g || threshold < m.kept_max_g)
                           : std::isfinite(m.merged_min_g);  // no cells: nothing is tiny
  if (changes) {
    return Status::invalid_argument(fmt::format(
        "set_conductances: the largest cell conductance {:g} S would change which resistances "
        "are merged as shorts (merged from {:g} S, kept up to {:g} S, ratio {:g}): assemble a "
        "new system for these cells",
        conductance.maxCoeff(), m.merged_min_g, m.kept_max_g, kShortRatio));
  }
  m.xbar.conductance = conductance;
  const Index c = m.cols();
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < c; ++j) m.branches[m.cell_begin + i * c + j].g = conductance(i, j);
  }
  m.stamp();
  m.factorized = false;
  m.boundary_block.reset();
  ++m.counters.restamps;
  m.times.assemble = seconds_since(t0);
  return Status::ok();
}

CrossbarSystem CrossbarSystem::clone() const {
  auto copy = std::make_unique<Impl>(*impl_);
  copy->counters = {};
  copy->times = {};
  copy->factorized = false;  // backends copy their analysis, not always their factor
  copy->boundary_block.reset();
  return CrossbarSystem(std::move(copy));
}

const SystemOptions& CrossbarSystem::options() const { return impl_->options; }
const SystemStats& CrossbarSystem::stats() const { return impl_->stats; }
const PhaseTimes& CrossbarSystem::times() const { return impl_->times; }
Counters CrossbarSystem::counters() const {
  Counters c = impl_->counters;
  c.backend_analyses = impl_->backend->analyses();
  return c;
}
const SparseMatrix& CrossbarSystem::matrix() const { return impl_->a; }
const netlists::Crossbar& CrossbarSystem::crossbar() const { return impl_->xbar; }
std::string CrossbarSystem::unknown_name(std::int64_t p) const {
  XBARNET_ASSERT(p >= 0 && p < impl_->stats.unknowns, "unknown index out of range");
  return impl_->nodes.name(impl_->representative[p]);
}

namespace {

Status check_memory(Index rows, Index cols, Index vectors, bool node_voltages, double limit) {
  const double need = estimate_system_bytes(rows, cols, vectors, node_voltages);
  const double have = core::effective_memory_limit(limit);
  if (need <= have) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "a {} x {} tile with {} input vector(s){} needs about {:.3g} GB, more than the memory limit "
      "of {:.3g} GB (0 = half of the machine's memory)",
      rows, cols, vectors, node_voltages ? " and their node voltages" : "", need / 1e9,
      have / 1e9));
}

}  // namespace

double estimate_system_bytes(Index rows, Index cols, Index input_vectors, bool node_voltages) {
  const double r = static_cast<double>(rows), c = static_cast<double>(cols);
  const double n = 2.0 * r * c + r + c;  // unknowns, at most
  // Element list and branches, pattern and values of A, ordering, topology and the backend's
  // workspace (~330 B), and L: nnz(L) ~ n (2 + 1.4 log2 n) entries of 12 B, per unknown.
  // Against the measured peaks: 1.9 GB estimated, 1.95 GB measured at 1024 x 1024 with 256
  // inputs; 0.55 GB and 0.58 GB at 256 x 256.
  const double factor = 12.0 * factor_entries_per_unknown(n);
  const double per_unknown = 330.0 + factor;
  // The supernodal factorization's pattern map and workspace: A has about 5 entries per unknown,
  // and a supernode has at most its separator (max(R, C)) and the boundary (R + C) below it.
  const double below = std::max(r, c) + r + c;
  const double supernodal = SupernodalCholesky::bytes(n, 5.0 * n, below);
  const double k = static_cast<double>(std::max<Index>(input_vectors, 1));
  const double block =
      static_cast<double>(block_inputs(static_cast<std::int64_t>(n), static_cast<Index>(k)));
  const double rhs = 3.0 * 8.0 * n * block;  // right-hand sides, solutions, backend copy
  const double outputs = 8.0 * k * c + (node_voltages ? 2.0 * 8.0 * k * r * c : 0.0);
  return per_unknown * n + supernodal + rhs + outputs + 8.0 * (r + c) * (r + c);
}

namespace {

StatusOr<CrossbarSystem> factorized_system(const netlists::Crossbar& xbar,
                                           const SystemOptions& options) {
  StatusOr<CrossbarSystem> system = CrossbarSystem::assemble(xbar, options);
  if (!system.is_ok()) return system.status();
  if (Status s = system.value().analyze(); !s.is_ok()) return s;
  if (Status s = system.value().factorize(); !s.is_ok()) return s;
  return system;
}

StatusOr<TransferRun> transfer_run(const netlists::Crossbar& xbar, const SystemOptions& options,
                                   int threads, bool check) {
  StatusOr<CrossbarSystem> system = factorized_system(xbar, options);
  if (!system.is_ok()) return system.status();
  StatusOr<TransferMatrix> t = system.value().transfer_matrix(threads, check);
  if (!t.is_ok()) return t.status();
  TransferRun run{std::move(t).value(), system.value().stats(), system.value().times()};
  run.times.solve = run.transfer.seconds;
  return run;
}

}  // namespace

std::string_view to_string(SolvePath path) {
  switch (path) {
    case SolvePath::kAuto:
      return "auto";
    case SolvePath::kDirect:
      return "direct";
    case SolvePath::kTransfer:
      return "transfer";
  }
  return "unknown";
}

StatusOr<SolvePath> parse_solve_path(std::string_view text) {
  return core::parse_enum("path", text,
                          std::array{SolvePath::kAuto, SolvePath::kDirect, SolvePath::kTransfer});
}

PathChoice choose_solve_path(Index rows, Index cols, Index inputs, bool node_voltages,
                             const SystemOptions& system, SolvePath asked) {
  const double r = static_cast<double>(rows), c = static_cast<double>(cols);
  const double k = static_cast<double>(inputs);
  const double n = std::max(2.0 * r * c, 2.0);
  const double per_input = 4.0 * n * factor_entries_per_unknown(n);
  const bool schur = system.backend != Backend::kKlu;
  const double boundary = r + c;
  const double t_extra = schur ? 2.0 * boundary * boundary * boundary / 3.0 : r * per_input;
  const double checks = static_cast<double>(std::min<Index>(inputs, kTransferCheckInputs));
  PathChoice choice;
  choice.direct_flops = k * per_input;
  choice.transfer_flops = t_extra + checks * per_input + 2.0 * k * r * c;
  // Transfer mode keeps the R + C boundary nodes as unknowns, which the dense reference backend
  // may not hold when the driven system fits.
  const bool fits = system.backend != Backend::kDense ||
                    2.0 * r * c + boundary <= static_cast<double>(kDenseBackendMaxUnknowns);
  const bool transfer_possible =
      !node_voltages && fits && !(schur && system.ordering != Ordering::kNestedDissection);
  if (asked == SolvePath::kDirect) {
    choice.path = SolvePath::kDirect;
    choice.reason = "direct (asked for)";
  } else if (asked == SolvePath::kTransfer) {
    choice.path = SolvePath::kTransfer;
    choice.reason = "transfer matrix (asked for)";
  } else if (node_voltages) {
    choice.path = SolvePath::kDirect;
    choice.reason = "direct: node voltages are asked for every input";
  } else if (!transfer_possible) {
    choice.path = SolvePath::kDirect;
    choice.reason = fits ? "direct: the transfer matrix needs the nested-dissection ordering"
                         : "direct: the transfer system's boundary would exceed the dense "
                           "backend's limit";
  } else {
    choice.path =
        choice.transfer_flops < choice.direct_flops ? SolvePath::kTransfer : SolvePath::kDirect;
    choice.reason = fmt::format(
        "{} by the cost model: {} input(s) by direct solves ~{:.3g} flops, through T ~{:.3g} "
        "flops ({})",
        choice.path == SolvePath::kTransfer ? "transfer matrix" : "direct", inputs,
        choice.direct_flops, choice.transfer_flops,
        schur ? "T from the factor's boundary block"
              : "T by R solves: KLU has no Schur complement");
  }
  return choice;
}

namespace {

// The transfer path of solve_crossbar on a factorized system: T once, I = V T^T, and the first,
// middle and last inputs solved directly with the same factor to check T.
Status currents_through_transfer(CrossbarSystem& sys, const Eigen::MatrixXd& inputs,
                                 const SolveOptions& solve, CrossbarRun& run) {
  StatusOr<TransferMatrix> t = sys.transfer_matrix(solve.threads, false);
  if (!t.is_ok()) return t.status();
  run.solution.column_current = inputs * t.value().t.transpose();
  const Index k = inputs.rows();
  std::vector<Index> picked;
  for (Index q : {Index{0}, k / 2, k - 1}) {
    if (std::find(picked.begin(), picked.end(), q) == picked.end()) picked.push_back(q);
  }
  SolveOptions direct_options = solve;
  direct_options.node_voltages = false;
  StatusOr<CrossbarSolution> direct = sys.solve(inputs(picked, Eigen::all), direct_options);
  if (!direct.is_ok()) return direct.status();
  double worst = 0.0;
  for (size_t q = 0; q < picked.size(); ++q) {
    worst = std::max(
        worst, transfer_disagreement(t.value().t, inputs.row(picked[q]),
                                     direct.value().column_current.row(static_cast<Index>(q))));
  }
  if (!(worst <= kTransferCheckTolerance)) {
    return Status{StatusCode::kBackendFailure,
                  fmt::format("the transfer matrix disagrees with a direct solve of the same "
                              "input: max |T v - I(v)| / max sum |T v| = {:.3e} > {:g}",
                              worst, kTransferCheckTolerance)};
  }
  run.checked_inputs = static_cast<Index>(picked.size());
  run.transfer_check = worst;
  run.solution.relative_residual = direct.value().relative_residual;
  run.solution.condition_estimate = direct.value().condition_estimate;
  run.solution.error_bound = direct.value().error_bound;
  return Status::ok();
}

}  // namespace

StatusOr<CrossbarRun> solve_crossbar(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                     const SystemOptions& system, const SolveOptions& solve,
                                     SolvePath path, std::span<const Index> voltage_inputs) {
  if (!voltage_inputs.empty()) {
    if (solve.node_voltages) {
      return Status::invalid_argument(
          "node voltages are asked for every input (node_voltages) and for listed inputs: ask "
          "for one or the other");
    }
    for (Index q : voltage_inputs) {
      if (q < 0 || q >= inputs.rows()) {
        return Status::invalid_argument(fmt::format(
            "voltage input {}: there are {} input vector(s), numbered from 0", q, inputs.rows()));
      }
    }
  }
  if (Status st = netlists::validate_inputs(xbar, inputs); !st.is_ok()) return st;
  CrossbarRun run;
  run.path =
      choose_solve_path(xbar.rows(), xbar.cols(), inputs.rows(), solve.node_voltages, system, path);
  const bool transfer = run.path.path == SolvePath::kTransfer;
  if (transfer && solve.node_voltages) {
    return Status::invalid_argument(
        "the transfer path gives column currents only: node voltages of every input need the "
        "direct path (or list the inputs whose voltages you need)");
  }
  SystemOptions so = system;
  if (transfer) so.mode = so.backend != Backend::kKlu ? Mode::kTransfer : Mode::kDriven;
  StatusOr<CrossbarSystem> made = factorized_system(xbar, so);
  if (!made.is_ok()) return made.status();
  CrossbarSystem& sys = made.value();
  const auto t0 = Clock::now();
  if (transfer) {
    if (Status st = currents_through_transfer(sys, inputs, solve, run); !st.is_ok()) return st;
  } else {
    StatusOr<CrossbarSolution> solution = sys.solve(inputs, solve);
    if (!solution.is_ok()) return solution.status();
    run.solution = std::move(solution).value();
  }
  if (!voltage_inputs.empty()) {
    // The listed inputs once more, directly, with their node voltages.
    SolveOptions with_voltages = solve;
    with_voltages.node_voltages = true;
    run.voltage_inputs.assign(voltage_inputs.begin(), voltage_inputs.end());
    StatusOr<CrossbarSolution> listed =
        sys.solve(inputs(run.voltage_inputs, Eigen::all), with_voltages);
    if (!listed.is_ok()) return listed.status();
    run.solution.word_voltage = std::move(listed.value().word_voltage);
    run.solution.bit_voltage = std::move(listed.value().bit_voltage);
  }
  run.stats = sys.stats();
  run.times = sys.times();
  run.times.solve = seconds_since(t0);
  return run;
}

StatusOr<TransferRun> transfer_matrix(const netlists::Crossbar& xbar, Backend backend, int threads,
                                      bool check) {
  return transfer_run(xbar, {backend, Ordering::kNestedDissection, Mode::kTransfer}, threads,
                      check);
}

StatusOr<TransferRun> transfer_matrix_by_solves(const netlists::Crossbar& xbar, Backend backend,
                                                int threads) {
  return transfer_run(xbar, {backend, Ordering::kNestedDissection, Mode::kDriven}, threads, true);
}

}  // namespace xbarnet::solver
