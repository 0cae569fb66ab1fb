// NumPy .npy files (format versions 1.0, 2.0 and 3.0): float64 and float32, little-endian,
// C or Fortran order. Anything else is rejected with a message naming the file and the rule.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace xbarnet::cli {

// Thrown for every problem with a file or a command-line value (the input boundary).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A circuit inside a command could not be solved (floating node, not positive definite, ...):
// the same exit code as `xbarnet solve` (kExitSolveError).
class SolveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::vector<std::int64_t> shape;  // empty for a 0-d array
  std::vector<double> data;         // C (row-major) order, converted to double
  std::int64_t size() const;
};

NpyArray read_npy(const std::filesystem::path& path);
// The same from a stream (seekable: its size is checked against the shape); `path` names it in
// messages.
NpyArray parse_npy(std::istream& in, const std::filesystem::path& path);
// Writes float64, C order, format 1.0.
void write_npy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
               const double* data);

// Shape helpers: throw InputError naming `path` and `what` when the shape does not fit.
Eigen::MatrixXd npy_matrix(const NpyArray& a, const std::string& path, const std::string& what);
// A 1-d array of `n` values, or a 0-d/1-element array broadcast to n.
Eigen::VectorXd npy_vector(const NpyArray& a, const std::string& path, const std::string& what,
                           Eigen::Index n);
void write_npy_matrix(const std::filesystem::path& path, const Eigen::MatrixXd& m);
void write_npy_vector(const std::filesystem::path& path, const Eigen::VectorXd& v);

}  // namespace xbarnet::cli
