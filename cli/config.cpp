#include "cli/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>
#include <set>

#include "cli/npy.hpp"

namespace xbarnet::cli {

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

  // A path relative to the config file.
  fs::path file(const char* key) const {
    const std::string t = text(key, "");
    if (t.empty()) return {};
    const fs::path p(t);
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
  r.only({"name", "kind", "weights", "bias", "input", "stride", "padding", "activation",
          "in_channels", "out_channels", "kernel", "input_size"});
  LayerEntry e;
  e.name = r.text("name", name_default);
  const mapping::LayerKind kind = r.check(mapping::parse_layer_kind(r.text("kind", "")), "kind");
  const std::int64_t stride = r.integer("stride", 1);
  const std::int64_t padding = r.integer("padding", 0);
  const mapping::Activation act =
      r.check(mapping::parse_activation(r.text("activation", "none")), "activation");
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

}  // namespace

Config load_config(const fs::path& path, bool need_values) {
  Config c;
  c.path = path;
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: not a valid TOML file: {}", path.string(),
                                 e.source().begin.line, e.source().begin.column, e.description()));
  }
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    if (key != "layer" && key != "mapping" && key != "device" && key != "parasitics" &&
        key != "simulation" && key != "output") {
      throw InputError(fmt::format(
          "{}: unknown table [{}] (known: [[layer]], [mapping], [device], [parasitics], "
          "[simulation], [output])",
          path.string(), key));
    }
  }
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
  }

  mapping::SimulationOptions& o = c.options;
  {
    Reader r(path, "mapping", root["mapping"].as_table());
    r.only({"scheme", "array", "subimage", "merge", "baseline_adc_bits"});
    o.mapping.scheme = r.check(mapping::parse_scheme(r.text("scheme", "im2col")), "scheme");
    const std::vector<std::int64_t> array = r.integers("array");
    if (!array.empty()) {
      if (array.size() != 2) r.fail("array", "must be [rows, cols]");
      o.mapping.array = {array[0], array[1]};
    }
    o.mapping.subimage = r.integer("subimage", 0);
    o.mapping.merge = r.check(mapping::parse_merge(r.text("merge", "sum")), "merge");
    o.mapping.baseline_adc_bits =
        static_cast<int>(r.integer("baseline_adc_bits", o.mapping.baseline_adc_bits));
    if (Status s = mapping::validate(o.mapping); !s.is_ok()) r.fail("array", s.message());
  }
  {
    Reader r(path, "device", root["device"].as_table());
    r.only({"r_lrs", "r_hrs", "v_read", "sign", "quantization", "weight_bits", "ternary_threshold",
            "input_bits", "adc_bits"});
    devices::DeviceParams& d = o.device;
    d.r_lrs = r.number("r_lrs", d.r_lrs);
    d.r_hrs = r.number("r_hrs", d.r_hrs);
    d.v_read = r.number("v_read", d.v_read);
    d.sign = r.check(devices::parse_sign_scheme(r.text("sign", "differential")), "sign");
    d.quantization =
        r.check(devices::parse_quantization(r.text("quantization", "analog")), "quantization");
    d.weight_bits = static_cast<int>(r.integer("weight_bits", d.weight_bits));
    d.ternary_threshold = r.number("ternary_threshold", d.ternary_threshold);
    d.input_bits = static_cast<int>(r.integer("input_bits", d.input_bits));
    d.adc_bits = static_cast<int>(r.integer("adc_bits", d.adc_bits));
    if (Status s = devices::validate(d); !s.is_ok()) r.fail("value", s.message());
  }
  {
    Reader r(path, "parasitics", root["parasitics"].as_table());
    r.only({"r_source", "r_wordline", "r_bitline", "r_neuron"});
    mapping::Parasitics& p = o.parasitics;
    p.r_source = r.number("r_source", 0.0);
    p.r_wordline = r.number("r_wordline", 0.0);
    p.r_bitline = r.number("r_bitline", 0.0);
    p.r_neuron = r.number("r_neuron", 0.0);
  }
  {
    Reader r(path, "simulation", root["simulation"].as_table());
    r.only({"backend", "threads", "ir_drop"});
    o.backend = r.check(solver::parse_backend(r.text("backend", "cholmod")), "backend");
    o.threads = static_cast<int>(r.integer("threads", 1));
    o.ir_drop = r.boolean("ir_drop", true);
  }
  {
    Reader r(path, "output", root["output"].as_table());
    r.only({"dir"});
    c.output_dir = r.text("dir", c.output_dir);
  }
  if (Status s = mapping::validate(o); !s.is_ok()) {
    throw InputError(fmt::format("{}: {}", path.string(), s.message()));
  }
  return c;
}

}  // namespace xbarnet::cli
