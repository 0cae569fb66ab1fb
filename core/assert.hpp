// Assertions for programmer errors (DESIGN.md, "three error channels"): a Status misused, the
// verbs of a solver called out of order, an index out of bounds. They are checked in Debug
// builds (NDEBUG not defined) and compiled out of Release builds; a failed assertion prints the
// condition, the file and the line, and aborts. Numerical outcomes and bad input never use them:
// those return a Status or throw at the input boundary.
#pragma once

namespace xbarnet::core {

[[noreturn]] void assertion_failed(const char* condition, const char* message, const char* file,
                                   int line);

}  // namespace xbarnet::core

#ifdef NDEBUG
#define XBARNET_ASSERT(condition, message) static_cast<void>(0)
#else
#define XBARNET_ASSERT(condition, message) \
  ((condition) ? static_cast<void>(0)      \
               : ::xbarnet::core::assertion_failed(#condition, message, __FILE__, __LINE__))
#endif
