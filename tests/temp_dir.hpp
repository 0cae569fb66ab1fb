// A per-process scratch directory for tests: several test runs on one machine (a Release and a
// sanitizer build, or two checkouts) never share files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace xbarnet::testing {

inline std::filesystem::path scratch_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("xbarnet-test-" + std::to_string(::getpid()) + "-" + name);
}

}  // namespace xbarnet::testing
