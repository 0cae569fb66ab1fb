// The layer configuration file (TOML; every key is documented in docs/config.md).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/layer.hpp"
#include "mapping/simulate.hpp"
#include "networks/network.hpp"

namespace xbarnet::cli {

// "" when `name` is a plain name (it names output files: a letter or digit first, then letters,
// digits, '_', '-', '.'; at most 100 characters), else the rule it breaks, naming it.
std::string plain_name_rule(const std::string& name);

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

// ------------------------------------------------------------------------------- networks

// The data set of a network config ([data]): Fashion-MNIST's IDX files (or MNIST's), gzip'd or
// not: t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (evaluated) and train-images-idx3-ubyte,
// train-labels-idx1-ubyte (the calibration images).
struct DataOptions {
  std::string dir = "/usr/share/datasets/fashion-mnist";  // relative: to the config file
  std::int64_t images = 0;                // test images evaluated (the first ones); 0 = all
  std::int64_t calibration_images = 100;  // training images of the calibration pass
  std::int64_t batch = 64;                // images per batch through the arrays
};
const core::ParameterTable<DataOptions>& data_parameters();

struct NetworkConfig {
  std::filesystem::path path;
  networks::Network network;
  mapping::SimulationOptions options;  // every layer's (a layer's own mapping replaces mapping)
  DataOptions data;
  std::filesystem::path data_dir;  // data.dir resolved against the config file
  OutputOptions output;
};

// Reads a network config: [network] (name, input, classes), [[layer]] (a weighted layer: kind,
// weights, bias, stride, padding, activation, mapping = {scheme, array, ...}; maxpool/avgpool:
// kernel, stride; relu; flatten; add: from), [data] and the simulation tables of a layer config.
// Throws InputError naming the file, the layer, the key, the value and the rule.
NetworkConfig load_network_config(const std::filesystem::path& path);
NetworkConfig parse_network_config(std::string_view text, const std::filesystem::path& path);

}  // namespace xbarnet::cli
