// Process-wide settings that the program (cli/main.cpp, bench/) makes once at start. The library
// itself never changes process state; these are here so that every program of the project makes
// the same choice.
#pragma once

namespace xbarnet::core {

// glibc's malloc returns blocks above its mmap threshold (128 KiB, raised on the fly up to
// 32 MiB) to the kernel when they are freed, and the next allocation takes fresh pages that the
// kernel must fault in and zero. A layer run allocates and frees, tile after tile, blocks of a
// hundred MiB and more (the batch's voltages and currents through each tile): on the 2-core
// machine page faults and zeroing were 27 % of the layer benchmark. Keeping freed blocks in the
// heap for reuse (mmap and trim thresholds at their maximum) removes that cost; the resident
// memory stays at the run's peak instead of shrinking between tiles (docs/performance.md).
// One arena for all threads: glibc gives each thread an arena of its own, whose extra heaps are
// unmapped whenever they empty (whatever the trim threshold) and whose free blocks no other
// thread reuses, so a tile's factor and system, allocated by whichever thread set the tile up,
// came back as fresh pages in the next layer (0.05-0.3 s of system time per simulated layer).
// A layer's allocations are few and large: the network benchmark ran as fast with one arena
// (docs/performance.md).
// Does nothing where the C library is not glibc.
void keep_freed_memory_for_reuse();

}  // namespace xbarnet::core
