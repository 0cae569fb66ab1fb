// The native part of the `xbarnet` Python package (pybind11): the unit-crossbar solve, the
// transfer matrix, SPICE export, layer mapping counts, layer simulation, networks and the data
// set reader. NumPy arrays in and out; every parameter as a keyword with the name, unit and rule
// of the config (the same declared tables check them); errors as xbarnet.Error (ValueError) and
// xbarnet.SolveError (RuntimeError) with the library's messages; the GIL released while the
// library computes. Nothing here computes a domain result: it converts and calls.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/dataset.hpp"
#include "cli/layer_commands.hpp"
#include "cli/npy.hpp"
#include "core/status.hpp"
#include "corrections/corrections.hpp"
#include "devices/adc.hpp"
#include "devices/device.hpp"
#include "devices/variation.hpp"
#include "mapping/plan.hpp"
#include "mapping/simulate.hpp"
#include "netlists/crossbar.hpp"
#include "netlists/spice.hpp"
#include "networks/crossbar_network.hpp"
#include "networks/network.hpp"
#include "solver/blas_threads.hpp"
#include "solver/build_info.hpp"
#include "solver/crossbar_system.hpp"

namespace py = pybind11;

namespace xbarnet::python {
namespace {

using cli::InputError;
using mapping::Tensor;
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// While the library computes: the GIL released, and the BLAS on one thread as the program runs
// it (OpenMP parallelises over tiles and inputs; solver/blas_threads.hpp), restored afterwards:
// the BLAS thread count is process-wide state that NumPy shares.
class Computing {
 public:
  Computing() : blas_(solver::blas_threads()) {
    if (blas_ > 1) solver::set_blas_threads(1);
  }
  ~Computing() {
    if (blas_ > 1) solver::set_blas_threads(blas_);
  }
  Computing(const Computing&) = delete;
  Computing& operator=(const Computing&) = delete;

 private:
  py::gil_scoped_release release_;
  int blas_;
};

// ------------------------------------------------------------------------------- conversions

[[noreturn]] void fail(const std::string& what, const Status& s) { cli::throw_status(what, s); }

std::string shape_text(const py::array& a) {
  std::string t = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    t += (d ? ", " : "") + std::to_string(a.shape(d));
  }
  return t + (a.ndim() == 1 ? ",)" : ")");
}

// Any array-like of real numbers (NumPy array of a bool, integer or float dtype, nested lists)
// as a float64 C-ordered array; anything else is refused naming the argument.
Array as_array(const py::handle& o, const std::string& name) {
  if (o.is_none()) throw InputError(fmt::format("{}: an array is required, not None", name));
  py::array a;
  try {
    a = py::module_::import("numpy").attr("asarray")(o);
  } catch (const py::error_already_set& e) {
    throw InputError(fmt::format("{}: cannot be read as an array of numbers ({})", name, e.what()));
  }
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw InputError(fmt::format("{}: has dtype {}: an array of real numbers is required", name,
                                 py::str(a.dtype()).cast<std::string>()));
  }
  return Array::ensure(a);
}

// Class labels: integers (or floats holding integers), one dimension.
std::vector<std::int64_t> as_labels(const py::handle& o) {
  const Array a = as_array(o, "labels");
  if (a.ndim() != 1) {
    throw InputError(
        fmt::format("labels: must be a 1-D array of class indices, not {}-D", a.ndim()));
  }
  std::vector<std::int64_t> v(static_cast<size_t>(a.size()));
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    const double x = a.data()[i];
    if (!(std::abs(x) < 9e15) || x != std::floor(x)) {
      throw InputError(fmt::format("labels[{}] = {}: must be an integer class index", i, x));
    }
    v[static_cast<size_t>(i)] = static_cast<std::int64_t>(x);
  }
  return v;
}

// A bias: one value per output, 1-D.
std::vector<double> as_bias(const py::handle& o, const std::string& name) {
  const Array a = as_array(o, name);
  if (a.ndim() != 1) {
    throw InputError(
        fmt::format("{}: must be 1-D (one per output), not of shape {}", name, shape_text(a)));
  }
  return {a.data(), a.data() + a.size()};
}

// A NumPy array (any real dtype: converted to float64) as a Tensor of its shape.
Tensor to_tensor(const Array& a) {
  Tensor t;
  t.shape.assign(a.shape(), a.shape() + a.ndim());
  t.data.assign(a.data(), a.data() + a.size());
  return t;
}

// A Tensor handed to NumPy without a copy (its buffer is moved into the array's owner).
py::array to_numpy(Tensor&& t) {
  auto* data = new std::vector<double>(std::move(t.data));
  py::capsule owner(data, [](void* p) { delete static_cast<std::vector<double>*>(p); });
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  return py::array_t<double>(shape, data->data(), owner);
}

py::array to_numpy(std::vector<std::int64_t>&& v) {
  auto* data = new std::vector<std::int64_t>(std::move(v));
  py::capsule owner(data, [](void* p) { delete static_cast<std::vector<std::int64_t>*>(p); });
  return py::array_t<std::int64_t>({static_cast<py::ssize_t>(data->size())}, data->data(), owner);
}

// A 2-D array (or a 1-D one as a single row when `row_ok`) as an Eigen matrix.
Eigen::MatrixXd to_matrix(const Array& a, const char* name, const char* dims, bool row_ok = false) {
  if (a.ndim() == 1 && row_ok) {
    Eigen::MatrixXd m(1, a.shape(0));
    for (py::ssize_t j = 0; j < a.shape(0); ++j) m(0, j) = a.data()[j];
    return m;
  }
  if (a.ndim() != 2) {
    throw InputError(fmt::format("{}: must be a 2-D array {}{}, not of shape {}", name, dims,
                                 row_ok ? " (or 1-D: one vector)" : "", shape_text(a)));
  }
  Eigen::MatrixXd m(a.shape(0), a.shape(1));
  const auto r = a.unchecked<2>();
  for (py::ssize_t i = 0; i < a.shape(0); ++i) {
    for (py::ssize_t j = 0; j < a.shape(1); ++j) m(i, j) = r(i, j);
  }
  return m;
}

// A Python integer (or NumPy integer) as a 64-bit one; anything larger is refused.
std::int64_t to_int64(const std::string& where, const py::handle& v) {
  try {
    return py::module_::import("operator").attr("index")(v).cast<std::int64_t>();
  } catch (const py::cast_error&) {
    throw InputError(fmt::format("{}: {} does not fit a 64-bit integer", where,
                                 py::repr(v).cast<std::string>()));
  }
}

bool is_integer(const py::handle& v) {
  return !py::isinstance<py::bool_>(v) &&
         (py::isinstance<py::int_>(v) ||
          py::isinstance(v, py::module_::import("numpy").attr("integer")));
}

// A Python value as a parameter value: bool, int, float, str, or a sequence of ints (NumPy
// scalars and integer arrays too).
core::Value to_value(const std::string& where, const py::handle& v) {
  if (py::isinstance<py::bool_>(v) ||
      py::isinstance(v, py::module_::import("numpy").attr("bool_"))) {
    return v.cast<bool>();
  }
  if (is_integer(v)) return to_int64(where, v);
  if (py::isinstance<py::float_>(v) ||
      py::isinstance(v, py::module_::import("numpy").attr("floating"))) {
    return v.cast<double>();
  }
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::sequence>(v) && !py::isinstance<py::bytes>(v) &&
      !py::isinstance<py::bytearray>(v)) {
    std::vector<std::int64_t> out;
    for (const py::handle& e : v.cast<py::sequence>()) {
      if (!is_integer(e)) {
        throw InputError(fmt::format("{}: {} is not a list of integers (element {})", where,
                                     py::repr(v).cast<std::string>(),
                                     py::repr(e).cast<std::string>()));
      }
      out.push_back(to_int64(where, e));
    }
    return out;
  }
  throw InputError(fmt::format("{}: {} ({}) is not a number, boolean, string or list of integers",
                               where, py::repr(v).cast<std::string>(),
                               py::str(v.get_type().attr("__name__")).cast<std::string>()));
}

py::object from_value(const core::Value& v) {
  return std::visit([](const auto& x) -> py::object { return py::cast(x); }, v);
}

// The keys of a dict set on `s` by the declared table (unknown keys and broken rules refused with
// the table's message).
template <typename S>
void set_table(const core::ParameterTable<S>& table, S& s, const py::object& keys) {
  if (keys.is_none()) return;
  if (!py::isinstance<py::dict>(keys)) {
    throw InputError(fmt::format("{}: must be a dict of [{}] keys, e.g. {{'{}': ...}}",
                                 table.table(), table.table(), table.names().front()));
  }
  for (const auto& [k, v] : keys.cast<py::dict>()) {
    const std::string key = py::str(k).cast<std::string>();
    if (table.find(key) == nullptr) {
      throw InputError(fmt::format("{}: unknown key '{}' (known: {})", table.table(), key,
                                   fmt::join(table.names(), ", ")));
    }
    const core::Value value = to_value(fmt::format("{}.{}", table.table(), key), v);
    if (Status st = table.set(s, key, value); !st.is_ok()) {
      throw InputError(fmt::format("{}: {}", table.table(), st.message()));
    }
  }
}

template <typename S>
py::dict table_dict(const core::ParameterTable<S>& table, const S& s) {
  py::dict d;
  for (const std::string& name : table.names())
    d[py::str(name)] = from_value(table.find(name)->get(s));
  return d;
}

// Calls f(declared table, its struct) for every table of a layer or network run, in the
// config's order: mapping, device, variation, adc, correction, parasitics, simulation.
template <typename Options, typename F>
void for_each_table(Options& o, F&& f) {
  f(mapping::mapping_parameters(), o.mapping);
  f(devices::device_parameters(), o.device);
  f(devices::variation_parameters(), o.variation);
  f(devices::adc_parameters(), o.adc);
  f(corrections::correction_parameters(), o.correction);
  f(netlists::parasitic_parameters(), o.parasitics);
  f(mapping::simulation_parameters(), o);
}

// The simulation tables of a layer or network run, as keyword dicts (None: the defaults).
struct Tables {
  py::object mapping, device, variation, adc, correction, parasitics, simulation;
  py::object of(const std::string& table) const {
    for (const auto& [name, keys] : {std::pair{"mapping", &mapping},
                                     {"device", &device},
                                     {"variation", &variation},
                                     {"adc", &adc},
                                     {"correction", &correction},
                                     {"parasitics", &parasitics},
                                     {"simulation", &simulation}}) {
      if (table == name) return *keys;
    }
    return py::none();
  }
};

mapping::SimulationOptions simulation_options(const Tables& t) {
  mapping::SimulationOptions o;
  for_each_table(o, [&](const auto& table, auto& s) { set_table(table, s, t.of(table.table())); });
  if (Status s = mapping::validate(o); !s.is_ok()) throw InputError(s.message());
  return o;
}

py::dict tables_dict(const mapping::SimulationOptions& o) {
  py::dict d;
  for_each_table(o, [&](const auto& table, const auto& s) {
    d[py::str(std::string(table.table()))] = table_dict(table, s);
  });
  return d;
}

// The declared parameters of one table: unit, kind, rule, default, description, choices.
template <typename S>
py::dict describe_table(const core::ParameterTable<S>& table, const S& defaults) {
  py::dict d;
  for (const std::string& name : table.names()) {
    const core::Parameter<S>& p = *table.find(name);
    py::dict e;
    e["unit"] = p.unit;
    e["rule"] = p.rule();
    e["default"] = from_value(p.get(defaults));
    e["description"] = p.description;
    if (!p.choices.empty()) e["choices"] = p.choices;
    d[py::str(name)] = e;
  }
  return d;
}

py::object json_to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

// ----------------------------------------------------------------------------- unit crossbar

netlists::Crossbar make_crossbar(const Array& conductance, double r_source, double r_wordline,
                                 double r_bitline, double r_neuron) {
  netlists::Parasitics p;
  py::dict keys;
  keys["r_source"] = r_source;
  keys["r_wordline"] = r_wordline;
  keys["r_bitline"] = r_bitline;
  keys["r_neuron"] = r_neuron;
  set_table(netlists::parasitic_parameters(), p, keys);
  netlists::Crossbar x =
      netlists::Crossbar::uniform(to_matrix(conductance, "conductance", "(rows, columns) [S]"), p);
  if (Status s = netlists::validate(x); !s.is_ok()) throw InputError(s.message());
  return x;
}

Eigen::MatrixXd make_inputs(const netlists::Crossbar& x, const Array& inputs) {
  Eigen::MatrixXd v = to_matrix(inputs, "inputs", "(vectors, rows) [V]", true);
  if (Status s = netlists::validate_inputs(x, v); !s.is_ok()) throw InputError(s.message());
  return v;
}

// A tile and its input block from Python arguments (checked; `single`: one (R,) vector).
struct TileArgs {
  netlists::Crossbar x;
  Eigen::MatrixXd v;
  bool single = false;
};
TileArgs tile_args(const py::object& conductance_in, const py::object& inputs_in, double r_source,
                   double r_wordline, double r_bitline, double r_neuron) {
  const Array conductance = as_array(conductance_in, "conductance");
  const Array inputs = as_array(inputs_in, "inputs");
  TileArgs t;
  t.x = make_crossbar(conductance, r_source, r_wordline, r_bitline, r_neuron);
  t.v = make_inputs(t.x, inputs);
  t.single = inputs.ndim() == 1;
  return t;
}

solver::Backend backend_of(const std::string& name) {
  StatusOr<solver::Backend> b = solver::parse_backend(name);
  if (!b.is_ok()) throw InputError(fmt::format("backend: {}", b.status().message()));
  return b.value();
}

py::dict solve(const py::object& conductance_in, const py::object& inputs_in, double r_source,
               double r_wordline, double r_bitline, double r_neuron, const std::string& backend,
               const std::string& ordering, const std::string& path, int threads,
               bool node_voltages, double memory_limit) {
  const TileArgs tile =
      tile_args(conductance_in, inputs_in, r_source, r_wordline, r_bitline, r_neuron);
  const netlists::Crossbar& x = tile.x;
  const Eigen::MatrixXd& v = tile.v;
  solver::SystemOptions system;
  system.backend = backend_of(backend);
  StatusOr<solver::Ordering> ord = solver::parse_ordering(ordering);
  if (!ord.is_ok()) throw InputError(ord.status().message());
  system.ordering = ord.value();
  if (!(memory_limit >= 0.0)) {
    throw InputError(fmt::format("memory_limit = {}: must be >= 0 bytes", memory_limit));
  }
  system.memory_limit = memory_limit;
  if (threads < 1) throw InputError(fmt::format("threads = {}: must be >= 1", threads));
  solver::SolveOptions options;
  options.threads = threads;
  options.node_voltages = node_voltages;
  StatusOr<solver::SolvePath> sp = solver::parse_solve_path(path);
  if (!sp.is_ok()) throw InputError(sp.status().message());
  StatusOr<solver::CrossbarRun> run = [&] {
    Computing computing;
    return solver::solve_crossbar(x, v, system, options, sp.value());
  }();
  if (!run.is_ok()) fail("the tile", run.status());
  solver::CrossbarRun& r = run.value();
  solver::CrossbarSolution& s = r.solution;
  py::dict d;
  const bool single = tile.single;
  if (single) {
    d["column_current"] = py::cast(Eigen::VectorXd(s.column_current.row(0).transpose()));
  } else {
    d["column_current"] = py::cast(std::move(s.column_current));
  }
  if (node_voltages) {
    const auto k = static_cast<py::ssize_t>(s.word_voltage.size());
    const py::ssize_t rows = x.rows(), cols = x.cols();
    py::array_t<double> w({k, rows, cols}), b({k, rows, cols}), drop({k, rows, cols});
    auto wm = w.mutable_unchecked<3>();
    auto bm = b.mutable_unchecked<3>();
    auto dm = drop.mutable_unchecked<3>();
    for (py::ssize_t q = 0; q < k; ++q) {
      const Eigen::MatrixXd ir = s.ir_drop(q, v);
      for (py::ssize_t i = 0; i < rows; ++i) {
        for (py::ssize_t j = 0; j < cols; ++j) {
          wm(q, i, j) = s.word_voltage[q](i, j);
          bm(q, i, j) = s.bit_voltage[q](i, j);
          dm(q, i, j) = ir(i, j);
        }
      }
    }
    d["word_voltage"] = single ? py::object(w[py::int_(0)]) : py::object(w);
    d["bit_voltage"] = single ? py::object(b[py::int_(0)]) : py::object(b);
    d["ir_drop"] = single ? py::object(drop[py::int_(0)]) : py::object(drop);
  }
  d["path"] = std::string(solver::to_string(r.path.path));
  d["relative_residual"] = s.relative_residual;
  d["condition_estimate"] = s.condition_estimate;
  d["error_bound"] = s.error_bound;
  d["seconds"] =
      py::dict(py::arg("assemble") = r.times.assemble, py::arg("analyze") = r.times.analyze,
               py::arg("factorize") = r.times.factorize, py::arg("solve") = r.times.solve);
  return d;
}

// The C++ call that solve() wraps, timed in C++ over `repeats` calls (the binding's overhead is
// solve()'s time per call minus this).
double time_solve(const py::object& conductance_in, const py::object& inputs_in, double r_source,
                  double r_wordline, double r_bitline, double r_neuron, int repeats) {
  const TileArgs tile =
      tile_args(conductance_in, inputs_in, r_source, r_wordline, r_bitline, r_neuron);
  const netlists::Crossbar& x = tile.x;
  const Eigen::MatrixXd& v = tile.v;
  if (repeats < 1) throw InputError("repeats: must be >= 1");
  Computing computing;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) {
    StatusOr<solver::CrossbarRun> run =
        solver::solve_crossbar(x, v, {}, {}, solver::SolvePath::kAuto);
    if (!run.is_ok()) {
      py::gil_scoped_acquire again;
      fail("the tile", run.status());
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
}

Eigen::MatrixXd transfer_matrix(const py::object& conductance_in, double r_source,
                                double r_wordline, double r_bitline, double r_neuron,
                                const std::string& backend, int threads) {
  const Array conductance = as_array(conductance_in, "conductance");
  const netlists::Crossbar x =
      make_crossbar(conductance, r_source, r_wordline, r_bitline, r_neuron);
  const solver::Backend b = backend_of(backend);
  if (threads < 1) throw InputError(fmt::format("threads = {}: must be >= 1", threads));
  StatusOr<solver::TransferRun> t = [&] {
    Computing computing;
    return solver::transfer_matrix(x, b, threads, true);
  }();
  if (!t.is_ok()) fail("the tile", t.status());
  return std::move(t.value().transfer.t);
}

std::string spice(const py::object& conductance_in, const py::object& inputs_in, double r_source,
                  double r_wordline, double r_bitline, double r_neuron, const std::string& title,
                  bool control_block) {
  const TileArgs tile =
      tile_args(conductance_in, inputs_in, r_source, r_wordline, r_bitline, r_neuron);
  const netlists::Crossbar& x = tile.x;
  const Eigen::MatrixXd& v = tile.v;
  netlists::SpiceOptions o;
  o.title = title;
  o.control_block = control_block;
  std::ostringstream out;
  if (Status s = netlists::write_spice(out, x, v, o); !s.is_ok()) fail("the tile", s);
  return out.str();
}

// ------------------------------------------------------------------------------------ layers

mapping::Layer make_layer(const std::string& kind, Tensor weights, const py::object& bias,
                          std::int64_t stride, std::int64_t padding, const std::string& activation,
                          const Tensor& input) {
  StatusOr<mapping::LayerKind> k = mapping::parse_layer_kind(kind);
  if (!k.is_ok()) throw InputError(fmt::format("kind: {}", k.status().message()));
  StatusOr<mapping::Activation> a = mapping::parse_activation(activation);
  if (!a.is_ok()) throw InputError(fmt::format("activation: {}", a.status().message()));
  std::vector<double> b;
  if (!bias.is_none()) b = as_bias(bias, "bias");
  StatusOr<mapping::Layer> layer = mapping::make_layer(k.value(), std::move(weights), std::move(b),
                                                       stride, padding, a.value(), input);
  if (!layer.is_ok()) fail("the layer", layer.status());
  return std::move(layer).value();
}

py::dict map_layer(const std::string& kind, const std::vector<std::int64_t>& weight_shape,
                   const std::vector<std::int64_t>& input_shape, std::int64_t stride,
                   std::int64_t padding, const py::object& mapping_keys,
                   const py::object& device_keys) {
  // The shapes only (no weights are allocated), checked as make_layer checks them.
  StatusOr<mapping::LayerKind> k = mapping::parse_layer_kind(kind);
  if (!k.is_ok()) throw InputError(fmt::format("kind: {}", k.status().message()));
  Tensor probe;  // one input of `input_shape`, its shape only
  probe.shape = {1};
  probe.shape.insert(probe.shape.end(), input_shape.begin(), input_shape.end());
  StatusOr<mapping::LayerShape> shape =
      mapping::layer_shape(k.value(), weight_shape, stride, padding, probe.shape);
  if (!shape.is_ok()) fail("the layer", shape.status());
  mapping::Layer layer;
  layer.shape = shape.value();
  if (Status st = mapping::validate_input(layer, probe); !st.is_ok()) fail("the layer", st);
  mapping::MappingOptions m;
  set_table(mapping::mapping_parameters(), m, mapping_keys);
  devices::DeviceParams dev;
  set_table(devices::device_parameters(), dev, device_keys);
  StatusOr<mapping::Plan> p = mapping::plan(layer.shape, m, dev.sign);
  if (!p.is_ok()) fail("the layer", p.status());
  return json_to_python(cli::plan_json(p.value()));
}

py::dict simulate_layer(const std::string& kind, const py::object& weights_in,
                        const py::object& input_in, const py::object& bias, std::int64_t stride,
                        std::int64_t padding, const std::string& activation,
                        const py::object& calibration, const std::string& name,
                        const Tables& tables) {
  const Array weights = as_array(weights_in, "weights");
  const Array input = as_array(input_in, "input");
  const Tensor x = to_tensor(input);
  const mapping::Layer layer =
      make_layer(kind, to_tensor(weights), bias, stride, padding, activation, x);
  const mapping::SimulationOptions o = simulation_options(tables);
  std::optional<Tensor> cal;
  if (!calibration.is_none()) cal = to_tensor(as_array(calibration, "calibration"));
  StatusOr<mapping::SimulationResult> r = [&] {
    Computing computing;
    return mapping::simulate(layer, x, o, {}, cal ? &*cal : nullptr);
  }();
  if (!r.is_ok()) fail(fmt::format("layer '{}'", name), r.status());
  py::dict d;
  d["report"] = json_to_python(cli::report_json(name, layer.shape, o, r.value().report));
  d["simulated"] = to_numpy(std::move(r.value().simulated));
  d["ideal"] = to_numpy(std::move(r.value().ideal));
  return d;
}

// ---------------------------------------------------------------------------------- networks

networks::StepSpec step_spec(const py::dict& d, std::size_t index) {
  networks::StepSpec s;
  const auto where = [&](const char* key) { return fmt::format("layers[{}].{}", index, key); };
  const auto text = [&](const char* key, const std::string& def) {
    if (!d.contains(key) || d[key].is_none()) return def;
    if (!py::isinstance<py::str>(d[key])) {
      throw InputError(fmt::format("{}: must be a string", where(key)));
    }
    return d[key].cast<std::string>();
  };
  const auto integer = [&](const char* key, std::int64_t def) {
    if (!d.contains(key) || d[key].is_none()) return def;
    if (!is_integer(d[key])) throw InputError(fmt::format("{}: must be an integer", where(key)));
    return to_int64(where(key), d[key]);
  };
  s.kind = text("kind", "");
  if (s.kind.empty()) throw InputError(fmt::format("{}: is required", where("kind")));
  const auto& kinds = networks::kStepKinds;
  if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) {
    throw InputError(fmt::format("{}: '{}' is not a layer kind ({})", where("kind"), s.kind,
                                 fmt::join(kinds, ", ")));
  }
  // The keys of a [[layer]] table, each for the kinds it belongs to (as the config reader).
  for (const auto& [k, v] : d) {
    const std::string key = py::str(k).cast<std::string>();
    if (std::string rule = networks::step_key_rule(s.kind, key); !rule.empty()) {
      throw InputError(fmt::format("layers[{}] ({}): {}: {}", index, s.kind, key,
                                   rule == "unknown key"
                                       ? "unknown key (known: name, kind, weights, bias, stride, "
                                         "padding, activation, kernel, from, mapping)"
                                       : rule));
    }
  }
  s.name = text("name", fmt::format("{}{}", s.kind, index));
  if (std::string rule = cli::plain_name_rule(s.name); !rule.empty()) {
    throw InputError(fmt::format("{}: {}", where("name"), rule));
  }
  const bool weighted = networks::is_weighted_kind(s.kind);
  const bool pool = networks::is_pooling_kind(s.kind);
  if (weighted) {
    if (!d.contains("weights") || d["weights"].is_none()) {
      throw InputError(
          fmt::format("{}: is required (an array of the layer's weights)", where("weights")));
    }
    s.weights = to_tensor(as_array(d["weights"], where("weights")));
    if (d.contains("bias") && !d["bias"].is_none()) s.bias = as_bias(d["bias"], where("bias"));
    s.stride = integer("stride", 1);
    s.padding = integer("padding", 0);
    StatusOr<mapping::Activation> a = mapping::parse_activation(text("activation", "none"));
    if (!a.is_ok()) {
      throw InputError(fmt::format("{}: {}", where("activation"), a.status().message()));
    }
    s.activation = a.value();
    if (d.contains("mapping") && !d["mapping"].is_none()) {
      if (!py::isinstance<py::dict>(d["mapping"])) {
        throw InputError(fmt::format("{}: must be a dict of [mapping] keys", where("mapping")));
      }
      mapping::MappingOptions probe;
      set_table(mapping::mapping_parameters(), probe, d["mapping"]);
      for (const auto& [k, v] : d["mapping"].cast<py::dict>()) {
        const std::string key = py::str(k).cast<std::string>();
        s.mapping.emplace_back(key, to_value(fmt::format("{}.{}", where("mapping"), key), v));
      }
    }
  } else if (pool) {
    s.kernel = integer("kernel", 0);
    if (s.kernel < 1) {
      throw InputError(
          fmt::format("{}: is required: the pooling window's side (>= 1)", where("kernel")));
    }
    s.pool_stride = integer("stride", s.kernel);
    if (s.pool_stride < 1) throw InputError(fmt::format("{}: must be >= 1", where("stride")));
  } else if (s.kind == "add") {
    s.from = text("from", "");
    if (s.from.empty()) {
      throw InputError(
          fmt::format("{}: is required: the earlier layer added (residual)", where("from")));
    }
  }
  return s;
}

networks::Network make_network(const std::string& name,
                               const std::vector<std::int64_t>& input_shape, std::int64_t classes,
                               const py::list& layers) {
  if (std::string rule = cli::plain_name_rule(name); !rule.empty()) {
    throw InputError(fmt::format("name: {}", rule));
  }
  std::vector<networks::StepSpec> specs;
  std::size_t i = 0;
  for (const py::handle& l : layers) {
    if (!py::isinstance<py::dict>(l)) {
      throw InputError(
          fmt::format("layers[{}]: must be a dict (the keys of a [[layer]] table)", i));
    }
    specs.push_back(step_spec(l.cast<py::dict>(), i++));
  }
  StatusOr<networks::Network> n =
      networks::make_network(name, input_shape, classes, std::move(specs));
  if (!n.is_ok()) fail(fmt::format("network '{}'", name), n.status());
  return std::move(n).value();
}

networks::DataSet make_dataset(const networks::Network& net, const py::object& images_in,
                               const py::object& labels_in) {
  networks::DataSet d;
  d.images = to_tensor(as_array(images_in, "images"));
  d.labels = as_labels(labels_in);
  if (d.images.shape.empty() || d.images.dim(0) != static_cast<std::int64_t>(d.labels.size())) {
    throw InputError(fmt::format("images {} and labels ({},): one label per image",
                                 d.images.shape_string(), d.labels.size()));
  }
  if (Status s = networks::validate(d, net); !s.is_ok()) fail("the data", s);
  return d;
}

py::dict evaluation_dict(networks::Evaluation&& e) {
  py::dict d;
  d["accuracy"] = e.accuracy;
  d["images"] = e.images;
  d["correct"] = e.correct;
  d["predicted"] = to_numpy(std::move(e.predicted));
  d["seconds"] = e.seconds;
  d["adc_conversions"] = e.adc_conversions;
  d["adc_clipped"] = e.adc_clipped;
  d["inputs_clipped"] = e.inputs_clipped;
  d["adc_energy_per_image"] = e.adc_energy_per_image;
  return d;
}

Tensor copy_of(const Tensor& t) { return t; }

// Every step as a dict: name, kind, in_shape, out_shape; weighted steps also their layer kind,
// weights and bias (NumPy copies), stride, padding, activation and own mapping keys; pooling its
// kernel and stride; add the step it adds.
py::list layer_dicts(const networks::Network& n) {
  py::list out;
  for (const networks::Step& s : n.steps) {
    py::dict d;
    d["name"] = s.name;
    d["in_shape"] = s.in_shape;
    d["out_shape"] = s.out_shape;
    if (s.kind == networks::StepKind::kWeighted) {
      d["kind"] = std::string(mapping::to_string(s.layer.shape.kind));
      d["weights"] = to_numpy(copy_of(s.layer.weights));
      Tensor b;
      b.shape = {static_cast<std::int64_t>(s.layer.bias.size())};
      b.data = s.layer.bias;
      d["bias"] = to_numpy(std::move(b));
      d["stride"] = s.layer.shape.stride;
      d["padding"] = s.layer.shape.padding;
      d["activation"] = std::string(mapping::to_string(s.layer.activation));
      py::dict m;
      for (const auto& [k, v] : s.mapping) m[py::str(k)] = from_value(v);
      d["mapping"] = m;
    } else {
      d["kind"] = std::string(networks::to_string(s.kind));
      if (s.kind == networks::StepKind::kMaxPool || s.kind == networks::StepKind::kAvgPool) {
        d["kernel"] = s.kernel;
        d["stride"] = s.stride;
      }
      if (s.kind == networks::StepKind::kAdd) d["from"] = n.steps[static_cast<size_t>(s.from)].name;
    }
    out.append(d);
  }
  return out;
}

std::vector<std::string> layer_names(const networks::Network& n) {
  std::vector<std::string> v;
  for (const networks::Step& s : n.steps) v.push_back(s.name);
  return v;
}

}  // namespace
}  // namespace xbarnet::python

PYBIND11_MODULE(_xbarnet, m) {
  using namespace xbarnet;
  using namespace xbarnet::python;
  m.doc() = "xbarnet's native module: see the `xbarnet` package for the documented interface.";

  // The library's messages as Python exceptions (the later registration is tried first).
  py::register_exception<cli::InputError>(m, "Error", PyExc_ValueError);
  py::register_exception<cli::SolveError>(m, "SolveError", PyExc_RuntimeError);

  m.def("build_info", &solver::build_info, "Compiler, libraries and BLAS of this build.");
  m.def("_blas_threads", &solver::blas_threads,
        "The BLAS library's thread count (0: no thread control); for the tests.");

  m.def("solve", &solve, py::arg("conductance"), py::arg("inputs"), py::kw_only(),
        py::arg("r_source") = 0.0, py::arg("r_wordline") = 0.0, py::arg("r_bitline") = 0.0,
        py::arg("r_neuron") = 0.0, py::arg("backend") = "cholmod", py::arg("ordering") = "nd",
        py::arg("path") = "auto", py::arg("threads") = 1, py::arg("node_voltages") = false,
        py::arg("memory_limit") = 0.0);
  m.def("time_solve", &time_solve, py::arg("conductance"), py::arg("inputs"), py::kw_only(),
        py::arg("r_source") = 0.0, py::arg("r_wordline") = 0.0, py::arg("r_bitline") = 0.0,
        py::arg("r_neuron") = 0.0, py::arg("repeats") = 10);
  m.def("transfer_matrix", &transfer_matrix, py::arg("conductance"), py::kw_only(),
        py::arg("r_source") = 0.0, py::arg("r_wordline") = 0.0, py::arg("r_bitline") = 0.0,
        py::arg("r_neuron") = 0.0, py::arg("backend") = "cholmod", py::arg("threads") = 1);
  m.def("spice", &spice, py::arg("conductance"), py::arg("inputs"), py::kw_only(),
        py::arg("r_source") = 0.0, py::arg("r_wordline") = 0.0, py::arg("r_bitline") = 0.0,
        py::arg("r_neuron") = 0.0, py::arg("title") = "xbarnet unit crossbar",
        py::arg("control_block") = true);
  m.def("map_layer", &map_layer, py::arg("kind"), py::arg("weight_shape"), py::arg("input_shape"),
        py::kw_only(), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("mapping") = py::none(), py::arg("device") = py::none());
  m.def(
      "simulate_layer",
      [](const std::string& kind, const py::object& weights, const py::object& input,
         const py::object& bias, std::int64_t stride, std::int64_t padding,
         const std::string& activation, const py::object& calibration, const std::string& name,
         const py::object& mapping, const py::object& device, const py::object& variation,
         const py::object& adc, const py::object& correction, const py::object& parasitics,
         const py::object& simulation) {
        return simulate_layer(
            kind, weights, input, bias, stride, padding, activation, calibration, name,
            {mapping, device, variation, adc, correction, parasitics, simulation});
      },
      py::arg("kind"), py::arg("weights"), py::arg("input"), py::kw_only(),
      py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
      py::arg("activation") = "none", py::arg("calibration") = py::none(),
      py::arg("name") = "layer", py::arg("mapping") = py::none(), py::arg("device") = py::none(),
      py::arg("variation") = py::none(), py::arg("adc") = py::none(),
      py::arg("correction") = py::none(), py::arg("parasitics") = py::none(),
      py::arg("simulation") = py::none());

  m.def("parameters", [] {
    py::dict d;
    const mapping::SimulationOptions o;
    for_each_table(o, [&](const auto& table, const auto& s) {
      d[py::str(std::string(table.table()))] = describe_table(table, s);
    });
    d["data"] = describe_table(cli::data_parameters(), cli::DataOptions{});
    return d;
  });

  py::class_<networks::CrossbarNetwork>(m, "CrossbarNetwork")
      .def(
          "forward",
          [](const networks::CrossbarNetwork& x, const py::object& images,
             std::int64_t first_image) {
            const Tensor t = to_tensor(as_array(images, "images"));
            StatusOr<networks::CrossbarNetwork::Forward> f = [&] {
              Computing computing;
              return x.forward(t, first_image);
            }();
            if (!f.is_ok()) fail(fmt::format("network '{}'", x.network().name), f.status());
            return to_numpy(std::move(f.value().scores));
          },
          py::arg("images"), py::arg("first_image") = 0)
      .def(
          "evaluate",
          [](const networks::CrossbarNetwork& x, const py::object& images,
             const py::object& labels) {
            const networks::DataSet d = make_dataset(x.network(), images, labels);
            StatusOr<networks::Evaluation> e = [&] {
              Computing computing;
              return networks::evaluate(x, d);
            }();
            if (!e.is_ok()) fail(fmt::format("network '{}'", x.network().name), e.status());
            return evaluation_dict(std::move(e).value());
          },
          py::arg("images"), py::arg("labels"))
      .def_property_readonly("arrays", &networks::CrossbarNetwork::arrays)
      .def_property_readonly("tiles", &networks::CrossbarNetwork::tiles)
      .def_property_readonly("setup_seconds", &networks::CrossbarNetwork::setup_seconds)
      .def_property_readonly("batch",
                             [](const networks::CrossbarNetwork& x) { return x.options().batch; })
      .def(
          "layer_report",
          [](const networks::CrossbarNetwork& x, const std::string& name) {
            const networks::Network& n = x.network();
            for (std::size_t i = 0; i < n.steps.size(); ++i) {
              if (n.steps[i].name != name) continue;
              const mapping::PreparedLayer* p = x.layer(i);
              if (p == nullptr)
                throw cli::InputError(fmt::format("layer '{}' has no arrays", name));
              return json_to_python(cli::report_json(name, p->layer.shape, p->options, p->report));
            }
            throw cli::InputError(
                fmt::format("no layer '{}' (layers: {})", name, fmt::join(layer_names(n), ", ")));
          },
          py::arg("name"));

  py::class_<networks::Network>(m, "Network")
      .def(py::init(&make_network), py::arg("name"), py::arg("input_shape"), py::arg("classes"),
           py::arg("layers"))
      .def_readonly("name", &networks::Network::name)
      .def_readonly("input_shape", &networks::Network::input_shape)
      .def_readonly("classes", &networks::Network::classes)
      .def_property_readonly("layer_names", &layer_names)
      .def_property_readonly("layers", &layer_dicts)
      .def(
          "float_forward",
          [](const networks::Network& n, const py::object& images) {
            const Tensor t = to_tensor(as_array(images, "images"));
            StatusOr<Tensor> s = [&] {
              Computing computing;
              return networks::float_forward(n, t);
            }();
            if (!s.is_ok()) fail(fmt::format("network '{}'", n.name), s.status());
            return to_numpy(std::move(s).value());
          },
          py::arg("images"))
      .def(
          "prepare",
          [](const networks::Network& n, const py::object& calibration, std::int64_t batch,
             bool ideal, const py::object& mapping, const py::object& device,
             const py::object& variation, const py::object& adc, const py::object& correction,
             const py::object& parasitics, const py::object& simulation) {
            networks::NetworkOptions o;
            o.simulation = simulation_options(
                {mapping, device, variation, adc, correction, parasitics, simulation});
            o.batch = batch;
            if (ideal) o = networks::on_ideal_crossbars(o);
            const Tensor cal = to_tensor(as_array(calibration, "calibration"));
            StatusOr<networks::CrossbarNetwork> x = [&] {
              Computing computing;
              return networks::CrossbarNetwork::prepare(n, o, cal);
            }();
            if (!x.is_ok()) fail(fmt::format("network '{}'", n.name), x.status());
            return std::move(x).value();
          },
          py::arg("calibration"), py::kw_only(), py::arg("batch") = 64, py::arg("ideal") = false,
          py::arg("mapping") = py::none(), py::arg("device") = py::none(),
          py::arg("variation") = py::none(), py::arg("adc") = py::none(),
          py::arg("correction") = py::none(), py::arg("parasitics") = py::none(),
          py::arg("simulation") = py::none());

  m.def(
      "evaluate_float",
      [](const networks::Network& n, const py::object& images, const py::object& labels,
         std::int64_t batch) {
        const networks::DataSet d = make_dataset(n, images, labels);
        StatusOr<networks::Evaluation> e = [&] {
          Computing computing;
          return networks::evaluate_float(n, d, batch);
        }();
        if (!e.is_ok()) fail(fmt::format("network '{}'", n.name), e.status());
        return evaluation_dict(std::move(e).value());
      },
      py::arg("network"), py::arg("images"), py::arg("labels"), py::arg("batch") = 64);

  m.def(
      "load_network_config",
      [](const std::string& path) {
        cli::NetworkConfig c = cli::load_network_config(path);
        py::dict d;
        d["tables"] = tables_dict(c.options);
        d["data"] = table_dict(cli::data_parameters(), c.data);
        d["data_dir"] = c.data_dir.string();
        d["network"] = py::cast(std::move(c.network));
        return d;
      },
      py::arg("path"));

  m.def(
      "load_dataset",
      [](const std::string& dir, const std::string& split, std::int64_t limit,
         const networks::Network* network) {
        if (split != "t10k" && split != "train") {
          throw cli::InputError(fmt::format("split = '{}': must be 't10k' or 'train'", split));
        }
        if (limit < 0) throw cli::InputError(fmt::format("limit = {}: must be >= 0", limit));
        networks::DataSet d = cli::load_idx_dataset(dir, split, limit, network);
        return py::make_tuple(to_numpy(std::move(d.images)), to_numpy(std::move(d.labels)));
      },
      py::arg("dir"), py::arg("split") = "t10k", py::arg("limit") = 0,
      py::arg("network") = nullptr);
}
