// libFuzzer target: the layer configuration reader on arbitrary text. It must return a config
// or throw InputError, never crash. Relative paths point into a folder that does not exist, and
// only .npy names are ever opened.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/config.hpp"
#include "cli/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool need_values : {false, true}) {
    try {
      const xbarnet::cli::Config c =
          xbarnet::cli::parse_config(text, "/nonexistent-xbarnet-fuzz/fuzz.toml", need_values);
      if (c.layers.empty()) __builtin_trap();
    } catch (const xbarnet::cli::InputError&) {
    }
  }
  return 0;
}
