// libFuzzer target: the .npy reader on arbitrary bytes. It must return an array or throw
// InputError (a message naming the rule), never crash, leak, or allocate what the file cannot
// hold.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "cli/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const xbarnet::cli::NpyArray a = xbarnet::cli::parse_npy(in, "fuzz.npy");
    if (static_cast<std::int64_t>(a.data.size()) != a.size()) __builtin_trap();
  } catch (const xbarnet::cli::InputError&) {
  }
  return 0;
}
