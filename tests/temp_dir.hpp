// A per-process scratch directory for tests: several test runs on one machine (a Release and a
// sanitizer build, or two checkouts) never share files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace xbarnet::testing {

inline std::filesystem::path scratch_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("xbarnet-test-" + std::to_string(::getpid()) + "-" + name);
}

// A fresh (emptied) scratch directory.
inline std::filesystem::path fresh_scratch_dir(const std::string& name) {
  const std::filesystem::path d = scratch_path(name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// A whole file as bytes (empty when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace xbarnet::testing
