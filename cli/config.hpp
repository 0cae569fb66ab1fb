// The layer configuration file (TOML; every key is documented in docs/config.md).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/layer.hpp"
#include "mapping/simulate.hpp"

namespace xbarnet::cli {

struct LayerEntry {
  std::size_t index = 0;  // its place in the config
  std::string name;
  mapping::LayerShape shape;             // from the weights and input when they are given
  std::optional<mapping::Layer> layer;   // when weights (and input) are given
  std::optional<mapping::Tensor> input;  // NCHW or (N, K)
  // A calibration batch of inputs (same shape but the batch size): fixes the input scale and
  // the ADC range of adc.range 'calibrated' / 'percentile' (mapping::simulate).
  std::optional<mapping::Tensor> calibration;
  // The layer's own correction scheme (overrides [correction] scheme).
  std::optional<corrections::Scheme> correction;
};

// The options of one layer: the config's, with the layer's own correction scheme, and the
// variation seed + the layer's index (the layers of one config draw independent devices).
mapping::SimulationOptions layer_options(const mapping::SimulationOptions& options,
                                         const LayerEntry& layer);

struct OutputOptions {
  std::string dir = "xbarnet-out";  // relative to the working directory
};
// The declared [output] table.
const core::ParameterTable<OutputOptions>& output_parameters();

struct Config {
  std::filesystem::path path;
  std::vector<LayerEntry> layers;
  mapping::SimulationOptions options;
  OutputOptions output;
};

// The layer named `key` (or of index `key`); the first layer when `key` is empty. Throws
// InputError naming the config file when there is none.
const LayerEntry& find_layer(const Config& config, const std::string& key);

// Reads and checks the file; throws InputError naming the file, the table, the key, the value
// and the rule. `need_values`: every layer must have weights and an input (simulate).
Config load_config(const std::filesystem::path& path, bool need_values);
// The same from the file's text; `path` names it and anchors its relative paths.
Config parse_config(std::string_view text, const std::filesystem::path& path, bool need_values);

}  // namespace xbarnet::cli
