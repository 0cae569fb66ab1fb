// A network on crossbars: every weighted layer programmed onto its unit arrays once (a
// mapping::PreparedLayer), then any number of image batches through them, next to the float
// network.
//
// Calibration: the input (DAC) scale and the ADC range of each layer are fixed once, by a
// calibration set of images run through the network as the chip computes it: layer l is set up
// on the activations the simulated layers 0 .. l-1 give for the calibration images (what the chip
// would measure when it is calibrated), and the calibration images' outputs of layer l are then
// read through it for the next layer. Nothing is taken from an evaluated batch, so an image's
// prediction does not depend on the batch it is in (read noise is drawn per image index).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "mapping/simulate.hpp"
#include "networks/network.hpp"

namespace xbarnet::networks {

// Where a long run is (for a progress line; the library never prints).
struct Progress {
  enum class Phase { kSetup, kEvaluate };
  Phase phase = Phase::kSetup;
  std::string layer;             // setup: the layer being set up
  std::int64_t layers_done = 0;  // setup: weighted layers set up so far
  std::int64_t layers = 0;       // weighted layers
  std::int64_t tiles_done = 0;   // setup: tiles programmed and solved so far
  std::int64_t tiles = 0;        // tiles of the network
  std::int64_t images_done = 0;  // evaluate
  std::int64_t images = 0;       // evaluate
};
using ProgressFn = std::function<void(const Progress&)>;

struct NetworkOptions {
  // Every weighted layer's simulation; a step's own mapping (scheme, array) replaces
  // simulation.mapping, and layer k (k-th weighted layer) draws its devices with
  // variation.seed + k.
  mapping::SimulationOptions simulation;
  std::int64_t batch = 64;  // images per batch through the arrays
};

// The simulation options of weighted layer `k` (step `step`): checked (mapping::validate).
StatusOr<mapping::SimulationOptions> layer_options(const NetworkOptions& options, const Step& step,
                                                   std::int64_t k);

// The same mapping, devices and ADC on ideal crossbars: no circuit (ideal_only), so no IR-drop
// map and no correction (the reference every simulated network is compared with).
NetworkOptions on_ideal_crossbars(NetworkOptions options);

class CrossbarNetwork {
 public:
  // Move-only: its layers hold their tiles' responses.
  CrossbarNetwork(const CrossbarNetwork&) = delete;
  CrossbarNetwork& operator=(const CrossbarNetwork&) = delete;
  CrossbarNetwork(CrossbarNetwork&&) noexcept = default;
  CrossbarNetwork& operator=(CrossbarNetwork&&) noexcept = default;
  ~CrossbarNetwork() = default;

  // Programs every weighted layer onto its arrays, calibrated on `calibration` (N, C, H, W).
  static StatusOr<CrossbarNetwork> prepare(const Network& net, const NetworkOptions& options,
                                           const Tensor& calibration,
                                           const ProgressFn& progress = {});

  // The class scores (N, classes) of a batch of images as the arrays compute them.
  // `first_image`: the index of the batch's first image in the data set (read noise).
  struct Forward {
    Tensor scores;
    std::int64_t adc_conversions = 0, adc_clipped = 0, inputs_clipped = 0;
    double adc_energy = 0.0;  // J, the whole batch
  };
  // The batch is refused, before anything is allocated, when it would need more memory than
  // simulation.memory_limit with the layers' responses (check_batch_memory).
  StatusOr<Forward> forward(const Tensor& images, std::int64_t first_image) const;

  // Refuses a batch of `batch` images whose largest layer run, with every prepared layer's
  // responses, would need more than the memory limit.
  Status check_batch_memory(std::int64_t batch) const;

  const Network& network() const { return net_; }
  const NetworkOptions& options() const { return options_; }
  // The prepared layer of step i (weighted steps only; nullptr otherwise).
  const mapping::PreparedLayer* layer(std::size_t step) const;
  std::int64_t tiles() const;   // tiles of all layers
  std::int64_t arrays() const;  // unit crossbars of all layers (tiles x copies)
  double setup_seconds() const { return setup_seconds_; }

 private:
  CrossbarNetwork() = default;
  Network net_;
  NetworkOptions options_;
  std::vector<std::optional<mapping::PreparedLayer>> prepared_;  // one per step
  double setup_seconds_ = 0.0;
  double kept_bytes_ = 0.0;  // every prepared layer's responses (mapping::prepared_layer_bytes)
};

// Images with their labels.
struct DataSet {
  Tensor images;                     // (N, C, H, W)
  std::vector<std::int64_t> labels;  // N, each in 0 .. classes-1
};

// Checks a data set against a network: image shape and every label (names the first bad one).
Status validate(const DataSet& data, const Network& net);

struct Evaluation {
  std::int64_t images = 0;
  std::vector<std::int64_t> predicted;  // per image
  std::int64_t correct = 0;
  double accuracy = 0.0;  // correct / images
  std::int64_t adc_conversions = 0, adc_clipped = 0, inputs_clipped = 0;
  double adc_energy_per_image = 0.0;  // J
  double seconds = 0.0;               // wall time of the batches (after any setup)
};

// The data set through the arrays, in batches of options().batch.
StatusOr<Evaluation> evaluate(const CrossbarNetwork& xnet, const DataSet& data,
                              const ProgressFn& progress = {});

// The data set through the float network, in batches of `batch`.
StatusOr<Evaluation> evaluate_float(const Network& net, const DataSet& data, std::int64_t batch);

}  // namespace xbarnet::networks
