// Thread counts: what a run asks for, capped at what the hardware has (asking for 100000
// OpenMP threads must not try to start them).
#pragma once

#include <algorithm>
#include <thread>

namespace xbarnet::core {

// The hardware's thread count (at least 1).
inline int hardware_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// `asked` (>= 1) capped at hardware_threads().
inline int capped_threads(int asked) { return std::clamp(asked, 1, hardware_threads()); }

}  // namespace xbarnet::core
