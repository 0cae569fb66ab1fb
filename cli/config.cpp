#include "cli/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <set>

#include "cli/npy.hpp"

namespace xbarnet::cli {

std::string plain_name_rule(const std::string& name) {
  const bool plain =
      !name.empty() && name.size() <= 100 &&
      std::isalnum(static_cast<unsigned char>(name.front())) &&
      std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
      });
  if (plain) return "";
  return fmt::format(
      "'{}' is not a plain name: it must start with a letter or digit and hold only "
      "letters, digits, '_', '-' and '.' (at most 100 characters), since it names "
      "the layer's output files",
      name);
}

namespace {

namespace fs = std::filesystem;

class Reader {
 public:
  Reader(fs::path file, std::string table, const toml::table* t)
      : file_(std::move(file)), table_(std::move(table)), t_(t) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw InputError(fmt::format("{}: [{}] {}: {}", file_.string(), table_, key, why));
  }

  void only(std::initializer_list<const char*> known) const {
    only(std::vector<std::string>(known.begin(), known.end()));
  }
  void only(const std::vector<std::string>& known) const {
    if (t_ == nullptr) return;
    std::set<std::string> ok(known.begin(), known.end());
    for (const auto& [k, v] : *t_) {
      if (!ok.contains(std::string(k.str()))) {
        fail(std::string(k.str()),
             fmt::format("unknown key (known keys: {})", fmt::join(known, ", ")));
      }
    }
  }

  bool has(const char* key) const { return t_ != nullptr && t_->contains(key); }

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const toml::node& n = *t_->get(key);
    if (auto v = n.value<double>()) return *v;
    fail(key, "must be a number");
  }

  std::int64_t integer(const char* key, std::int64_t fallback) const {
    if (!has(key)) return fallback;
    const toml::node& n = *t_->get(key);
    if (n.is_integer()) return n.as_integer()->get();
    fail(key, "must be an integer");
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (auto v = t_->get(key)->value<bool>()) return *v;
    fail(key, "must be true or false");
  }

  std::string text(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (auto v = t_->get(key)->value<std::string>()) return *v;
    fail(key, "must be a string");
  }

  std::vector<std::int64_t> integers(const char* key) const {
    std::vector<std::int64_t> out;
    if (!has(key)) return out;
    const toml::array* a = t_->get(key)->as_array();
    if (a == nullptr) fail(key, "must be an array of integers");
    for (const toml::node& n : *a) {
      if (!n.is_integer()) fail(key, "must be an array of integers");
      out.push_back(n.as_integer()->get());
    }
    return out;
  }

  // The TOML value of `key` as a parameter value (numbers, integers, booleans, strings, arrays
  // of integers); the declaration then checks its kind and rule.
  core::Value value(const std::string& key) const {
    const toml::node& n = *t_->get(key);
    if (n.is_integer()) return n.as_integer()->get();
    if (n.is_floating_point()) return n.as_floating_point()->get();
    if (n.is_boolean()) return n.as_boolean()->get();
    if (n.is_string()) return n.as_string()->get();
    if (const toml::array* a = n.as_array()) {
      std::vector<std::int64_t> v;
      for (const toml::node& e : *a) {
        if (!e.is_integer()) fail(key, "must be an array of integers");
        v.push_back(e.as_integer()->get());
      }
      return v;
    }
    fail(key, "must be a number, an integer, a boolean, a string or an array of integers");
  }

  // Reads the keys of a declared table into `s`: unknown keys, wrong kinds and broken rules are
  // refused with the file, the table, the key, the value and the rule.
  template <typename S>
  void read(const core::ParameterTable<S>& decl, S& s) const {
    only(decl.names());
    for (const core::Parameter<S>& p : decl.parameters()) {
      if (!has(p.name.c_str())) continue;
      if (Status st = decl.set(s, p.name, value(p.name)); !st.is_ok()) fail_rule(st.message());
    }
    if (Status st = decl.validate(s); !st.is_ok()) fail_rule(st.message());
  }

  [[noreturn]] void fail_rule(const std::string& message) const {
    throw InputError(fmt::format("{}: [{}] {}", file_.string(), table_, message));
  }

  // A path relative to the config file.
  fs::path file(const char* key) const {
    const std::string t = text(key, "");
    if (t.empty()) return {};
    const fs::path p(t);
    // Only .npy files are read (never a device, a directory or anything else a name could be).
    if (p.extension() != ".npy") fail(key, fmt::format("'{}' is not a .npy file name", t));
    return p.is_absolute() ? p : file_.parent_path() / p;
  }

  template <typename T>
  T check(StatusOr<T> v, const char* key) const {
    if (!v.is_ok()) fail(key, v.status().message());
    return std::move(v).value();
  }

 private:
  fs::path file_;
  std::string table_;
  const toml::table* t_;
};

// A layer's name becomes part of output file names: a plain file-name component only, so that no
// output can land outside the output directory or hide itself.
void check_plain_name(const Reader& r, const std::string& name) {
  if (std::string rule = plain_name_rule(name); !rule.empty()) r.fail("name", rule);
}

mapping::Tensor read_tensor(const fs::path& p) {
  NpyArray a = read_npy(p);
  mapping::Tensor t;
  t.shape = std::move(a.shape);
  t.data = std::move(a.data);
  return t;
}

LayerEntry read_layer(const fs::path& file, const toml::table& t, std::size_t index,
                      bool need_values) {
  const std::string name_default = fmt::format("layer{}", index);
  Reader r(file, fmt::format("layer {}", index), &t);
  r.only({"name", "kind", "weights", "bias", "input", "calibration", "correction", "stride",
          "padding", "activation", "in_channels", "out_channels", "kernel", "input_size"});
  LayerEntry e;
  e.index = index;
  e.name = r.text("name", name_default);
  check_plain_name(r, e.name);
  const mapping::LayerKind kind = r.check(mapping::parse_layer_kind(r.text("kind", "")), "kind");
  const std::int64_t stride = r.integer("stride", 1);
  const std::int64_t padding = r.integer("padding", 0);
  const mapping::Activation act =
      r.check(mapping::parse_activation(r.text("activation", "none")), "activation");
  if (r.has("correction")) {
    e.correction = r.check(corrections::parse_scheme(r.text("correction", "")), "correction");
  }
  const fs::path weights = r.file("weights");
  const fs::path input = r.file("input");
  if (need_values && (weights.empty() || input.empty())) {
    r.fail(weights.empty() ? "weights" : "input",
           "is required to simulate a layer (a .npy file, relative to the config file)");
  }
  if (!weights.empty() && !input.empty()) {
    mapping::Tensor w = read_tensor(weights);
    mapping::Tensor x = read_tensor(input);
    std::vector<double> bias;
    if (const fs::path b = r.file("bias"); !b.empty()) bias = read_tensor(b).data;
    StatusOr<mapping::Layer> layer =
        mapping::make_layer(kind, std::move(w), std::move(bias), stride, padding, act, x);
    if (!layer.is_ok()) {
      throw InputError(fmt::format("{}: layer '{}' ({} with {}): {}", file.string(), e.name,
                                   weights.string(), input.string(), layer.status().message()));
    }
    e.shape = layer.value().shape;
    e.layer = std::move(layer).value();
    e.input = std::move(x);
    if (const fs::path cal = r.file("calibration"); !cal.empty()) {
      mapping::Tensor xc = read_tensor(cal);
      if (Status st = mapping::validate_input(*e.layer, xc); !st.is_ok()) {
        throw InputError(fmt::format("{}: layer '{}': calibration {}: {}", file.string(), e.name,
                                     cal.string(), st.message()));
      }
      e.calibration = std::move(xc);
    }
    return e;
  }
  // Shape only (for `map`).
  mapping::LayerShape& s = e.shape;
  s.kind = kind;
  s.stride = stride;
  s.padding = padding;
  s.in_channels = r.integer("in_channels", 0);
  s.out_channels =
      r.integer("out_channels", kind == mapping::LayerKind::kDepthwise ? s.in_channels : 0);
  s.kernel = r.integer("kernel", 1);
  if (kind != mapping::LayerKind::kDense) {
    const std::vector<std::int64_t> size = r.integers("input_size");
    if (size.size() != 2) r.fail("input_size", "must be [height, width] for a convolution layer");
    s.in_height = size[0];
    s.in_width = size[1];
  }
  if (Status st = mapping::validate(s); !st.is_ok()) r.fail("shape", st.message());
  return e;
}

// The whole text of a config file.
std::string read_config_text(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) {
    throw InputError(fmt::format("{}: not a file (a config is a TOML file)", path.string()));
  }
  constexpr std::uintmax_t kMaxBytes = std::uintmax_t{64} << 20;  // a config is a few kB
  if (const std::uintmax_t n = fs::file_size(path, ec); !ec && n > kMaxBytes) {
    throw InputError(
        fmt::format("{}: {} bytes: a config is a TOML file of at most 64 MiB", path.string(), n));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file for reading", path.string()));
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

// The TOML of a config, whose top-level tables must be among `known` (listed in the message as
// `listed`).
toml::table parse_toml(std::string_view text, const fs::path& path,
                       std::initializer_list<std::string_view> known, std::string_view listed) {
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: not a valid TOML file: {}", path.string(),
                                 e.source().begin.line, e.source().begin.column, e.description()));
  }
  for (const auto& [k, v] : root) {
    if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
      throw InputError(
          fmt::format("{}: unknown table [{}] (known: {})", path.string(), k.str(), listed));
    }
  }
  return root;
}

// The simulation tables shared by layer and network configs.
void read_simulation_tables(const toml::table& root, const fs::path& path,
                            mapping::SimulationOptions& o, OutputOptions& output) {
  const auto table = [&](const char* name) {
    return root.get(name) ? root.get(name)->as_table() : nullptr;
  };
  Reader(path, "mapping", table("mapping")).read(mapping::mapping_parameters(), o.mapping);
  Reader(path, "device", table("device")).read(devices::device_parameters(), o.device);
  Reader(path, "variation", table("variation")).read(devices::variation_parameters(), o.variation);
  Reader(path, "adc", table("adc")).read(devices::adc_parameters(), o.adc);
  Reader(path, "correction", table("correction"))
      .read(corrections::correction_parameters(), o.correction);
  Reader(path, "parasitics", table("parasitics"))
      .read(netlists::parasitic_parameters(), o.parasitics);
  Reader(path, "simulation", table("simulation")).read(mapping::simulation_parameters(), o);
  Reader(path, "output", table("output")).read(output_parameters(), output);
  if (Status s = mapping::validate(o); !s.is_ok()) {
    throw InputError(fmt::format("{}: {}", path.string(), s.message()));
  }
}

}  // namespace

const core::ParameterTable<OutputOptions>& output_parameters() {
  static const auto kTable = core::ParameterTable<OutputOptions>("output").text(
      "dir", &OutputOptions::dir,
      "where simulate and compare write (relative to the working directory; --output-dir "
      "overrides)");
  return kTable;
}

mapping::SimulationOptions layer_options(const mapping::SimulationOptions& options,
                                         const LayerEntry& layer) {
  mapping::SimulationOptions o = options;
  if (layer.correction) o.correction.scheme = *layer.correction;
  o.variation.seed += static_cast<std::int64_t>(layer.index);
  return o;
}

const LayerEntry& find_layer(const Config& c, const std::string& key) {
  if (key.empty()) return c.layers.front();
  for (size_t i = 0; i < c.layers.size(); ++i) {
    if (c.layers[i].name == key || std::to_string(i) == key) return c.layers[i];
  }
  throw InputError(fmt::format("{}: no layer named '{}'", c.path.string(), key));
}

Config load_config(const fs::path& path, bool need_values) {
  return parse_config(read_config_text(path), path, need_values);
}

Config parse_config(std::string_view text, const fs::path& path, bool need_values) {
  Config c;
  c.path = path;
  const toml::table root =
      parse_toml(text, path,
                 {"layer", "mapping", "device", "variation", "adc", "correction", "parasitics",
                  "simulation", "output"},
                 "[[layer]], [mapping], [device], [variation], [adc], [correction], [parasitics], "
                 "[simulation], [output]");
  const toml::array* layers = root["layer"].as_array();
  if (layers == nullptr || layers->empty()) {
    throw InputError(
        fmt::format("{}: no [[layer]] table: describe at least one layer", path.string()));
  }
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const toml::table* t = (*layers)[i].as_table();
    if (t == nullptr)
      throw InputError(fmt::format("{}: layer {} is not a table", path.string(), i));
    c.layers.push_back(read_layer(path, *t, i, need_values));
    for (std::size_t k = 0; k + 1 < c.layers.size(); ++k) {
      if (c.layers[k].name == c.layers.back().name) {
        throw InputError(fmt::format(
            "{}: [layer {}] name: '{}' is already the name of layer {}: names must be unique "
            "(they name the output files)",
            path.string(), i, c.layers.back().name, k));
      }
    }
  }

  read_simulation_tables(root, path, c.options, c.output);
  return c;
}

// ------------------------------------------------------------------------------- networks

const core::ParameterTable<DataOptions>& data_parameters() {
  static const auto kTable =
      core::ParameterTable<DataOptions>("data")
          .text("dir", &DataOptions::dir,
                "folder of the data set's IDX files (t10k-*/train-*-idx?-ubyte, gzip'd or not; "
                "relative to the config file); Debian's dataset-fashion-mnist installs them")
          .integer("images", &DataOptions::images, "", core::Range::at_least(0),
                   "test images evaluated (the first ones)", "0 = all")
          .integer("calibration_images", &DataOptions::calibration_images, "",
                   core::Range::at_least(1),
                   "training images of the calibration pass (fix every layer's input scale and "
                   "ADC range)")
          .integer("batch", &DataOptions::batch, "", core::Range::at_least(1),
                   "images per batch through the arrays (results do not depend on it)");
  return kTable;
}

namespace {

networks::StepSpec read_step(const fs::path& file, const toml::table& t, std::size_t index,
                             const mapping::MappingOptions& network_mapping) {
  Reader r(file, fmt::format("layer {}", index), &t);
  r.only({"name", "kind", "weights", "bias", "stride", "padding", "activation", "kernel", "from",
          "mapping"});
  networks::StepSpec s;
  s.kind = r.text("kind", "");
  if (s.kind.empty()) r.fail("kind", "is required");
  const auto& kinds = networks::kStepKinds;
  if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) {
    r.fail("kind", fmt::format("'{}' is not a layer kind ({})", s.kind, fmt::join(kinds, ", ")));
  }
  s.name = r.text("name", fmt::format("{}{}", s.kind, index));
  check_plain_name(r, s.name);
  Reader named(file, fmt::format("layer {} '{}'", index, s.name), &t);
  const bool weighted = networks::is_weighted_kind(s.kind);
  const bool pool = networks::is_pooling_kind(s.kind);
  for (const auto& [k, v] : t) {
    if (std::string rule = networks::step_key_rule(s.kind, k.str()); !rule.empty()) {
      named.fail(std::string(k.str()), rule);
    }
  }
  if (weighted) {
    const fs::path w = named.file("weights");
    if (w.empty()) named.fail("weights", "is required (a .npy file, relative to the config file)");
    try {
      s.weights = read_tensor(w);
      if (const fs::path b = named.file("bias"); !b.empty()) s.bias = read_tensor(b).data;
    } catch (const InputError& e) {
      throw InputError(
          fmt::format("{}: [layer {} '{}']: {}", file.string(), index, s.name, e.what()));
    }
    s.stride = named.integer("stride", 1);
    s.padding = named.integer("padding", 0);
    s.activation =
        named.check(mapping::parse_activation(named.text("activation", "none")), "activation");
    if (named.has("mapping")) {
      const toml::table* m = t.get("mapping")->as_table();
      if (m == nullptr) named.fail("mapping", "must be a table, e.g. { scheme = \"subimage\" }");
      const Reader mr(file, fmt::format("layer {} '{}' mapping", index, s.name), m);
      mr.only(mapping::mapping_parameters().names());
      mapping::MappingOptions own = network_mapping;
      for (const auto& [k, v] : *m) {
        const std::string key(k.str());
        core::Value value = mr.value(key);
        if (Status st = mapping::mapping_parameters().set(own, key, value); !st.is_ok()) {
          mr.fail_rule(st.message());
        }
        s.mapping.emplace_back(key, std::move(value));
      }
      if (Status st = mapping::mapping_parameters().validate(own); !st.is_ok())
        mr.fail_rule(st.message());
    }
  } else if (pool) {
    s.kernel = named.integer("kernel", 0);
    if (s.kernel < 1) named.fail("kernel", "is required: the pooling window's side (>= 1)");
    s.pool_stride = named.integer("stride", s.kernel);
    if (s.pool_stride < 1) named.fail("stride", "must be >= 1");
  } else if (s.kind == "add") {
    s.from = named.text("from", "");
    if (s.from.empty()) named.fail("from", "is required: the earlier layer added (residual)");
  }
  return s;
}

}  // namespace

NetworkConfig load_network_config(const fs::path& path) {
  return parse_network_config(read_config_text(path), path);
}

NetworkConfig parse_network_config(std::string_view text, const fs::path& path) {
  NetworkConfig c;
  c.path = path;
  const toml::table root = parse_toml(
      text, path,
      {"network", "layer", "data", "mapping", "device", "variation", "adc", "correction",
       "parasitics", "simulation", "output"},
      "[network], [[layer]], [data], [mapping], [device], [variation], [adc], [correction], "
      "[parasitics], [simulation], [output]");
  const toml::table* net = root.get("network") ? root.get("network")->as_table() : nullptr;
  if (net == nullptr) {
    throw InputError(
        fmt::format("{}: no [network] table: a network config names its input shape and classes "
                    "(docs/networks.md)",
                    path.string()));
  }
  read_simulation_tables(root, path, c.options, c.output);
  const toml::table* data = root.get("data") ? root.get("data")->as_table() : nullptr;
  Reader(path, "data", data).read(data_parameters(), c.data);
  c.data_dir =
      fs::path(c.data.dir).is_absolute() ? fs::path(c.data.dir) : path.parent_path() / c.data.dir;
  Reader n(path, "network", net);
  n.only({"name", "input", "classes"});
  const std::string name = n.text("name", path.stem().string());
  check_plain_name(n, name);  // it names the output files
  const std::vector<std::int64_t> input = n.integers("input");
  if (input.empty()) n.fail("input", "is required: one image's [channels, height, width]");
  const std::int64_t classes = n.integer("classes", 0);
  const toml::array* layers = root.get("layer") ? root.get("layer")->as_array() : nullptr;
  if (layers == nullptr || layers->empty()) {
    throw InputError(
        fmt::format("{}: no [[layer]] table: describe the network's layers", path.string()));
  }
  std::vector<networks::StepSpec> steps;
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const toml::table* t = (*layers)[i].as_table();
    if (t == nullptr)
      throw InputError(fmt::format("{}: layer {} is not a table", path.string(), i));
    steps.push_back(read_step(path, *t, i, c.options.mapping));
  }
  StatusOr<networks::Network> built =
      networks::make_network(name, input, classes, std::move(steps));
  if (!built.is_ok()) {
    throw InputError(fmt::format("{}: {}", path.string(), built.status().message()));
  }
  c.network = std::move(built).value();
  return c;
}

}  // namespace xbarnet::cli
