// Memory limits: a run estimates what it needs from its sizes before it allocates anything, and
// refuses with the estimate when that exceeds its limit (by default half of the machine's
// physical memory).
#pragma once

#include <unistd.h>

#include <cstdint>

namespace xbarnet::core {

// Physical memory of the machine [B] (0 if it cannot be told).
inline double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

// A limit of 0 means the default: half of the physical memory (no limit if it is unknown).
inline double effective_memory_limit(double limit_bytes) {
  if (limit_bytes > 0.0) return limit_bytes;
  const double physical = physical_memory_bytes();
  return physical > 0.0 ? 0.5 * physical : 1e300;
}

}  // namespace xbarnet::core
