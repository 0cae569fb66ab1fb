#include "solver/crossbar_system.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "solver/ordering.hpp"

namespace xbarnet::solver {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Node codes after reduction: >= 0 an unknown, kGround, or an input: kFirstInput - i.
constexpr std::int64_t kGround = -1;
constexpr std::int64_t kFirstInput = -2;
constexpr std::int64_t input_code(Index i) { return kFirstInput - i; }
constexpr bool is_input(std::int64_t code) { return code <= kFirstInput; }
constexpr Index input_of(std::int64_t code) { return kFirstInput - code; }

// Largest right-hand-side block solved at once, in values (2^24 doubles = 128 MiB).
constexpr std::int64_t kMaxBlockEntries = std::int64_t{1} << 24;

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

}  // namespace

struct CrossbarSystem::Impl {
  netlists::Crossbar xbar;
  Backend backend_kind = Backend::kCholmod;
  Ordering ordering = Ordering::kNestedDissection;
  // Transfer mode: the input nodes and the per-column virtual grounds stay unknowns (the
  // "boundary"), numbered last, for the Schur complement; nothing is driven.
  bool transfer_mode = false;
  std::int64_t interior = 0;  // unknowns before the boundary (all of them in driven mode)
  std::unique_ptr<LinearSolver> backend;

  // Circuit node ids: ground 0, in(i) = 1+i, w(i,j) = 1+R+iC+j, b(i,j) = 1+R+RC+iC+j, and the
  // virtual ground of column j, vg(j) = 1+R+2RC+j (tied to ground in driven mode).
  std::vector<std::int64_t> code;            // node id -> node code
  std::vector<std::int64_t> representative;  // unknown -> first circuit node id merged into it
  std::vector<Branch> branches;
  std::int64_t cell_begin = 0;         // branches[cell_begin + i*C + j] is cell (i,j)
  std::vector<std::int64_t> diag_pos;  // unknown p -> index of A(p,p)

  SparseMatrix a;
  double a_norm_inf = 0.0;
  // RHS couplings to input sources: b(p) += g * V_i.
  struct Coupling {
    std::int64_t p;
    Index input;
    double g;
  };
  std::vector<Coupling> couplings;
  std::vector<char> anchored;  // unknown p has a branch with g > 0 to a driven node

  bool analyzed = false;
  bool factorized = false;
  SystemStats stats;
  PhaseTimes times;

  Index rows() const { return xbar.rows(); }
  Index cols() const { return xbar.cols(); }
  std::int64_t input_id(Index i) const { return 1 + i; }
  std::int64_t word_id(Index i, Index j) const { return 1 + rows() + i * cols() + j; }
  std::int64_t bit_id(Index i, Index j) const {
    return 1 + rows() + rows() * cols() + i * cols() + j;
  }
  std::int64_t ground_id(Index j) const { return 1 + rows() + 2 * rows() * cols() + j; }

  std::string node_name(std::int64_t id) const {
    const std::int64_t r = rows();
    const std::int64_t c = cols();
    if (id == 0) return "0";
    if (id <= r) return netlists::input_node_name(id - 1);
    id -= 1 + r;
    if (id < r * c) return netlists::word_node_name(id / c, id % c);
    id -= r * c;
    if (id < r * c) return netlists::bit_node_name(id / c, id % c);
    return fmt::format("vg{}", id - r * c);  // virtual ground of a column
  }

  Status build_topology();
  std::vector<std::int64_t> unknown_ordering() const;
  void build_pattern();
  void stamp();
  Status check_floating() const;
  // Voltage of a node for input vector k, whose solution is column kx of x.
  double voltage(std::int64_t node_code, const Eigen::MatrixXd& x, const Eigen::MatrixXd& inputs,
                 Index kx, Index k) const {
    if (node_code >= 0) return x(node_code, kx);
    if (node_code == kGround) return 0.0;
    return inputs(k, input_of(node_code));
  }
};

Status CrossbarSystem::Impl::build_topology() {
  const Index r = rows();
  const Index c = cols();
  const std::int64_t n_ids = 1 + r + 2 * r * c + c;
  DisjointSets sets(n_ids);
  std::int64_t shorts = 0;
  std::int64_t opens = 0;
  auto classify = [&](double ohms, std::int64_t u, std::int64_t v) {
    if (ohms == 0.0) {
      sets.unite(u, v);
      ++shorts;
    } else if (std::isinf(ohms)) {
      ++opens;
    }
  };
  if (!transfer_mode) {
    for (Index j = 0; j < c; ++j) sets.unite(0, ground_id(j));
  }
  for (Index i = 0; i < r; ++i) classify(xbar.r_source(i), input_id(i), word_id(i, 0));
  for (Index i = 0; i < r; ++i) {
    for (Index j = 0; j + 1 < c; ++j)
      classify(xbar.r_wordline(i, j), word_id(i, j), word_id(i, j + 1));
  }
  for (Index i = 0; i + 1 < r; ++i) {
    for (Index j = 0; j < c; ++j) classify(xbar.r_bitline(i, j), bit_id(i, j), bit_id(i + 1, j));
  }
  for (Index j = 0; j < c; ++j) classify(xbar.r_neuron(j), bit_id(r - 1, j), ground_id(j));

  // Driven groups: ground and the inputs are the smallest ids, hence the roots of their groups.
  // Two of them in one group would be a loop of ideal sources.
  for (Index i = 0; i < r; ++i) {
    if (sets.find(input_id(i)) != input_id(i)) {
      return Status::invalid_argument(
          fmt::format("input source {} is shorted to {} by 0-ohm elements",
                      netlists::input_node_name(i), node_name(sets.find(input_id(i)))));
    }
  }
  // Boundary slots (transfer mode): input i -> i, virtual ground j -> R + j.
  std::vector<std::int64_t> boundary_of_root;
  if (transfer_mode) {
    boundary_of_root.assign(static_cast<size_t>(n_ids), -1);
    for (Index i = 0; i < r; ++i) boundary_of_root[input_id(i)] = i;
    for (Index j = 0; j < c; ++j) {
      const std::int64_t root = sets.find(ground_id(j));
      if (boundary_of_root[root] >= 0) {
        return Status::invalid_argument(fmt::format(
            "virtual ground of column {} is shorted to {} by 0-ohm elements", j, node_name(root)));
      }
      boundary_of_root[root] = r + j;
    }
  }
  code.assign(static_cast<size_t>(n_ids), 0);
  representative.clear();
  std::vector<std::int64_t> unknown_of_root(static_cast<size_t>(n_ids), -1);
  for (std::int64_t id = 0; id < n_ids; ++id) {
    const std::int64_t root = sets.find(id);
    if (transfer_mode) {
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
  if (transfer_mode) {
    for (Index i = 0; i < r; ++i) representative.push_back(input_id(i));
    for (Index j = 0; j < c; ++j) representative.push_back(ground_id(j));
    for (std::int64_t id = 0; id < n_ids; ++id) {
      const std::int64_t slot = boundary_of_root[sets.find(id)];
      if (slot >= 0) code[id] = interior + slot;
    }
  }
  stats.rows = r;
  stats.cols = c;
  stats.circuit_nodes = n_ids;
  stats.unknowns = static_cast<std::int64_t>(representative.size());
  stats.shorts = shorts;
  stats.opens = opens;

  // Branches: every finite, non-zero parasitic resistance, and every cell (even G = 0, so that
  // the pattern does not depend on the programmed values).
  branches.clear();
  auto add = [&](std::int64_t u, std::int64_t v, double g) {
    branches.push_back({code[u], code[v], g, -1, -1});
  };
  auto add_resistance = [&](double ohms, std::int64_t u, std::int64_t v) {
    if (ohms > 0.0 && std::isfinite(ohms)) add(u, v, 1.0 / ohms);
  };
  for (Index i = 0; i < r; ++i) add_resistance(xbar.r_source(i), input_id(i), word_id(i, 0));
  for (Index i = 0; i < r; ++i) {
    for (Index j = 0; j + 1 < c; ++j) {
      add_resistance(xbar.r_wordline(i, j), word_id(i, j), word_id(i, j + 1));
    }
  }
  cell_begin = static_cast<std::int64_t>(branches.size());
  for (Index i = 0; i < r; ++i) {
    for (Index j = 0; j < c; ++j) add(word_id(i, j), bit_id(i, j), xbar.conductance(i, j));
  }
  for (Index i = 0; i + 1 < r; ++i) {
    for (Index j = 0; j < c; ++j) {
      add_resistance(xbar.r_bitline(i, j), bit_id(i, j), bit_id(i + 1, j));
    }
  }
  for (Index j = 0; j < c; ++j) add_resistance(xbar.r_neuron(j), bit_id(r - 1, j), ground_id(j));
  stats.branches = static_cast<std::int64_t>(branches.size());
  return Status::ok();
}

void CrossbarSystem::Impl::build_pattern() {
  const std::int64_t n = stats.unknowns;
  using Triplet = Eigen::Triplet<double, std::int64_t>;
  std::vector<Triplet> triplets;
  triplets.reserve(static_cast<size_t>(n + 2 * static_cast<std::int64_t>(branches.size())));
  for (std::int64_t p = 0; p < n; ++p) triplets.emplace_back(p, p, 0.0);
  for (const Branch& br : branches) {
    if (br.a >= 0 && br.b >= 0 && br.a != br.b) {
      triplets.emplace_back(br.a, br.b, 0.0);
      triplets.emplace_back(br.b, br.a, 0.0);
    }
  }
  a.resize(n, n);
  a.setFromTriplets(triplets.begin(), triplets.end());
  a.makeCompressed();
  triplets.clear();
  triplets.shrink_to_fit();

  auto position = [&](std::int64_t row, std::int64_t col) -> std::int64_t {
    const std::int64_t* begin = a.innerIndexPtr() + a.outerIndexPtr()[col];
    const std::int64_t* end = a.innerIndexPtr() + a.outerIndexPtr()[col + 1];
    const std::int64_t* it = std::lower_bound(begin, end, row);
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
  for (const Branch& br : branches) {
    if (br.a == br.b) continue;  // both ends merged: carries no current
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
  const std::vector<std::int64_t> nodes = grid_nested_dissection(rows(), cols());
  std::vector<char> placed(static_cast<size_t>(stats.unknowns), 0);
  std::vector<std::int64_t> order;
  order.reserve(static_cast<size_t>(stats.unknowns));
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const std::int64_t cell = *it / 2;
    const Index i = cell / cols();
    const Index j = cell % cols();
    const std::int64_t p = (*it % 2 == 0) ? code[word_id(i, j)] : code[bit_id(i, j)];
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
                      node_name(representative[first]), count)};
}

// ------------------------------------------------------------------------------ public API

CrossbarSystem::CrossbarSystem(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CrossbarSystem::CrossbarSystem(CrossbarSystem&&) noexcept = default;
CrossbarSystem& CrossbarSystem::operator=(CrossbarSystem&&) noexcept = default;
CrossbarSystem::~CrossbarSystem() = default;

StatusOr<CrossbarSystem> CrossbarSystem::assemble(const netlists::Crossbar& xbar, Backend backend,
                                                  Ordering ordering) {
  return assemble_system(xbar, backend, ordering, false);
}

StatusOr<CrossbarSystem> CrossbarSystem::assemble_system(const netlists::Crossbar& xbar,
                                                         Backend backend, Ordering ordering,
                                                         bool transfer_mode) {
  const auto t0 = Clock::now();
  if (Status s = netlists::validate(xbar); !s.is_ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->xbar = xbar;
  impl->backend_kind = backend;
  impl->ordering = ordering;
  impl->transfer_mode = transfer_mode;
  impl->backend = make_linear_solver(backend);
  if (Status s = impl->build_topology(); !s.is_ok()) return s;
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
  if (m.stats.unknowns > 0) {
    const std::vector<std::int64_t> order = m.ordering == Ordering::kNestedDissection
                                                ? m.unknown_ordering()
                                                : std::vector<std::int64_t>{};
    if (Status s = m.backend->analyze(m.a, order); !s.is_ok()) return s;
    m.stats.factor = m.backend->stats();
  } else {
    m.stats.factor = {};
    m.stats.factor.method = "no unknowns (every node driven)";
  }
  m.analyzed = true;
  m.times.analyze = seconds_since(t0);
  return Status::ok();
}

Status CrossbarSystem::factorize() {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  m.factorized = false;
  if (!m.analyzed) {
    if (Status s = analyze(); !s.is_ok()) return s;
  }
  if (Status s = m.check_floating(); !s.is_ok()) return s;
  if (m.stats.unknowns > 0) {
    Status s = m.backend->factorize(m.a);
    if (!s.is_ok()) {
      const std::int64_t p = m.backend->failed_index();
      if (p >= 0 && p < m.stats.unknowns) {
        return {s.code(), fmt::format("{} (unknown {}, node {})", s.message(), p,
                                      m.node_name(m.representative[p]))};
      }
      return s;
    }
    m.stats.factor = m.backend->stats();
  }
  m.factorized = true;
  m.times.factorize = seconds_since(t0);
  return Status::ok();
}

StatusOr<CrossbarSolution> CrossbarSystem::solve(const Eigen::MatrixXd& inputs,
                                                 const SolveOptions& options) {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  if (Status s = netlists::validate_inputs(m.xbar, inputs); !s.is_ok()) return s;
  if (options.threads < 1) {
    return Status::invalid_argument(fmt::format("threads = {}: must be >= 1", options.threads));
  }
  if (!m.factorized) {
    if (Status s = factorize(); !s.is_ok()) return s;
  }
  const Index r = m.rows();
  const Index c = m.cols();
  const Index n_vec = inputs.rows();
  const std::int64_t n = m.stats.unknowns;
  const int threads = options.threads;

  CrossbarSolution sol;
  sol.column_current.setZero(n_vec, c);
  if (options.node_voltages) {
    sol.word_voltage.assign(static_cast<size_t>(n_vec), Eigen::MatrixXd(r, c));
    sol.bit_voltage.assign(static_cast<size_t>(n_vec), Eigen::MatrixXd(r, c));
  }
  std::vector<double> residual(static_cast<size_t>(n_vec), 0.0);

  // Inputs are solved in chunks of at most kMaxBlockEntries right-hand-side values, so memory
  // stays bounded whatever the number of input vectors (a 1024 x 1024 tile has 2M unknowns).
  const Index chunk = std::clamp<Index>(kMaxBlockEntries / std::max<std::int64_t>(n, 1), 1, n_vec);
  for (Index k0 = 0; k0 < n_vec; k0 += chunk) {
    const Index kc = std::min(chunk, n_vec - k0);
    // Right-hand sides: b(p, k) = sum of g * V_i(k) over the branches from p to input i.
    Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(n, kc);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index k = 0; k < kc; ++k) {
      for (const Impl::Coupling& cp : m.couplings) rhs(cp.p, k) += cp.g * inputs(k0 + k, cp.input);
    }
    Eigen::MatrixXd x = rhs;
    if (n > 0) {
      if (Status s = m.backend->solve(x); !s.is_ok()) return s;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index kk = 0; kk < kc; ++kk) {
      const Index k = k0 + kk;
      // Column current = sum of the cell currents into the bit line (KCL on the column's net;
      // the bit line's top end is open, so this is exactly the current into the neuron).
      Eigen::VectorXd current = Eigen::VectorXd::Zero(c);
      for (Index i = 0; i < r; ++i) {
        for (Index j = 0; j < c; ++j) {
          const double vw = m.voltage(m.code[m.word_id(i, j)], x, inputs, kk, k);
          const double vb = m.voltage(m.code[m.bit_id(i, j)], x, inputs, kk, k);
          current(j) += m.xbar.conductance(i, j) * (vw - vb);
          if (options.node_voltages) {
            sol.word_voltage[k](i, j) = vw;
            sol.bit_voltage[k](i, j) = vb;
          }
        }
      }
      sol.column_current.row(k) = current.transpose();
      if (n > 0) {
        const Eigen::VectorXd res = m.a * x.col(kk) - rhs.col(kk);
        const double denom = m.a_norm_inf * x.col(kk).lpNorm<Eigen::Infinity>() +
                             rhs.col(kk).lpNorm<Eigen::Infinity>();
        residual[k] = denom > 0.0 ? res.lpNorm<Eigen::Infinity>() / denom : 0.0;
      }
    }
  }
  sol.relative_residual = *std::max_element(residual.begin(), residual.end());
  m.times.solve = seconds_since(t0);
  return sol;
}

Status CrossbarSystem::set_conductances(const Eigen::MatrixXd& conductance) {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  netlists::Crossbar candidate = m.xbar;
  candidate.conductance = conductance;
  if (Status s = netlists::validate(candidate); !s.is_ok()) return s;
  m.xbar.conductance = conductance;
  const Index c = m.cols();
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < c; ++j) m.branches[m.cell_begin + i * c + j].g = conductance(i, j);
  }
  m.stamp();
  m.factorized = false;
  m.times.assemble = seconds_since(t0);
  return Status::ok();
}

const SystemStats& CrossbarSystem::stats() const { return impl_->stats; }
const PhaseTimes& CrossbarSystem::times() const { return impl_->times; }
const SparseMatrix& CrossbarSystem::matrix() const { return impl_->a; }
const netlists::Crossbar& CrossbarSystem::crossbar() const { return impl_->xbar; }
std::string CrossbarSystem::unknown_name(std::int64_t p) const {
  return impl_->node_name(impl_->representative[p]);
}

StatusOr<TransferMatrix> transfer_matrix_by_solves(const netlists::Crossbar& xbar,
                                                   const SolveOptions& options) {
  const auto t0 = Clock::now();
  const Eigen::MatrixXd unit = Eigen::MatrixXd::Identity(xbar.rows(), xbar.rows());
  StatusOr<CrossbarRun> run = solve_crossbar(xbar, unit, options);
  if (!run.is_ok()) return run.status();
  TransferMatrix out;
  out.t = run.value().solution.column_current.transpose();
  out.stats = run.value().stats;
  out.times = run.value().times;
  out.times.solve =
      seconds_since(t0) - out.times.assemble - out.times.analyze - out.times.factorize;
  out.method = fmt::format("{} solves with unit inputs", xbar.rows());
  return out;
}

StatusOr<TransferMatrix> transfer_matrix(const netlists::Crossbar& xbar,
                                         const SolveOptions& options) {
  if (options.backend == Backend::kKlu) return transfer_matrix_by_solves(xbar, options);
  // The nested-dissection ordering is the one that puts the boundary last.
  StatusOr<CrossbarSystem> assembled = CrossbarSystem::assemble_system(
      xbar, options.backend, Ordering::kNestedDissection, true);
  if (!assembled.is_ok()) return assembled.status();
  CrossbarSystem& system = assembled.value();
  if (Status s = system.analyze(); !s.is_ok()) return s;
  if (Status s = system.factorize(); !s.is_ok()) return s;
  const auto t1 = Clock::now();
  const Index r = xbar.rows();
  const Index c = xbar.cols();
  StatusOr<Eigen::MatrixXd> schur = system.impl_->backend->trailing_schur_complement(r + c);
  if (!schur.is_ok()) return schur.status();
  TransferMatrix out;
  // Rows R..R+C-1 of S are the virtual grounds, columns 0..R-1 the inputs. The current the
  // network delivers into virtual ground j is minus the current injected there.
  out.t = -schur.value().block(r, 0, c, r);
  system.impl_->times.solve = seconds_since(t1);
  out.stats = system.stats();
  out.times = system.times();
  out.method = fmt::format("Schur complement onto {} boundary nodes", r + c);
  return out;
}

StatusOr<CrossbarRun> solve_crossbar(const netlists::Crossbar& xbar, const Eigen::MatrixXd& inputs,
                                     const SolveOptions& options) {
  StatusOr<CrossbarSystem> system =
      CrossbarSystem::assemble(xbar, options.backend, options.ordering);
  if (!system.is_ok()) return system.status();
  if (Status s = system.value().analyze(); !s.is_ok()) return s;
  if (Status s = system.value().factorize(); !s.is_ok()) return s;
  StatusOr<CrossbarSolution> solution = system.value().solve(inputs, options);
  if (!solution.is_ok()) return solution.status();
  return CrossbarRun{std::move(solution).value(), system.value().stats(), system.value().times()};
}

}  // namespace xbarnet::solver
