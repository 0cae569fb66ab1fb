// Memory limits: a run estimates what it needs from its sizes before it allocates anything, and
// refuses with the estimate when that exceeds its limit (by default half of the machine's
// physical memory).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
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

// Asks the kernel to back the 2 MiB-aligned pages inside [data, data + bytes) with transparent
// huge pages (madvise MADV_HUGEPAGE; machines set to "madvise" give them to no one else). Call it
// before the memory is first written: a fresh block then takes a fault per 2 MiB instead of one
// per 4 KiB page (a fresh 256 x 256 tile's factor, 28 MB, took 0.11-0.13 s to factorize instead
// of 0.07 s, docs/performance.md); memory the heap recycles is already mapped in small pages and
// gains only if the kernel later merges them. A hint only: where it is refused or unsupported
// nothing changes. (2 MiB is x86-64's huge page; elsewhere the rounding only advises less.)
inline void advise_huge_pages(void* data, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
  if (data != nullptr && last > first) {
    (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace xbarnet::core
