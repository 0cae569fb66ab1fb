#include "solver/ordering.hpp"

namespace xbarnet::solver {

namespace {

struct Region {
  Eigen::Index i0, i1, j0, j1;  // half-open cell ranges
};

class Dissection {
 public:
  Dissection(Eigen::Index cols, Eigen::Index leaf, std::vector<std::int64_t>& out)
      : cols_(cols), leaf_(leaf), out_(out) {}

  void run(const Region& g) {
    const Eigen::Index h = g.i1 - g.i0;
    const Eigen::Index w = g.j1 - g.j0;
    if (h <= 0 || w <= 0) return;
    if (h * w <= leaf_ || (h < 3 && w < 3)) {
      for (Eigen::Index i = g.i0; i < g.i1; ++i) {
        for (Eigen::Index j = g.j0; j < g.j1; ++j) {
          push_w(i, j);
          push_b(i, j);
        }
      }
      return;
    }
    if (h >= w) {
      const Eigen::Index mid = g.i0 + h / 2;
      run({g.i0, mid, g.j0, g.j1});
      run({mid + 1, g.i1, g.j0, g.j1});
      for (Eigen::Index j = g.j0; j < g.j1; ++j) push_w(mid, j);  // isolated path
      for (Eigen::Index j = g.j0; j < g.j1; ++j) push_b(mid, j);  // separator
    } else {
      const Eigen::Index mid = g.j0 + w / 2;
      run({g.i0, g.i1, g.j0, mid});
      run({g.i0, g.i1, mid + 1, g.j1});
      for (Eigen::Index i = g.i0; i < g.i1; ++i) push_b(i, mid);  // isolated path
      for (Eigen::Index i = g.i0; i < g.i1; ++i) push_w(i, mid);  // separator
    }
  }

 private:
  void push_w(Eigen::Index i, Eigen::Index j) { out_.push_back(2 * (i * cols_ + j)); }
  void push_b(Eigen::Index i, Eigen::Index j) { out_.push_back(2 * (i * cols_ + j) + 1); }

  Eigen::Index cols_;
  Eigen::Index leaf_;
  std::vector<std::int64_t>& out_;
};

}  // namespace

std::vector<std::int64_t> grid_nested_dissection(Eigen::Index rows, Eigen::Index cols,
                                                 Eigen::Index leaf) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<size_t>(2 * rows * cols));
  Dissection(cols, leaf, out).run({0, rows, 0, cols});
  return out;
}

}  // namespace xbarnet::solver
