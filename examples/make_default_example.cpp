// Writes the built-in example layer of examples/default/ (checked in; this program is how it was
// made): a 3x3 convolution, 16 -> 32 channels, He-normal weights (std sqrt(2 / fan_in)), small
// biases, and a batch of 4 non-negative 16x16 feature maps (rectified sinusoids plus noise, like
// the activations after a ReLU). Deterministic: the same files on every machine.
//   usage: xbarnet-make-example DIR
#include <cmath>
#include <cstdint>
#include <iostream>
#include <numbers>
#include <vector>

#include "cli/npy.hpp"
#include "core/random.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: xbarnet-make-example DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  constexpr std::int64_t kOut = 32, kIn = 16, kK = 3, kN = 4, kH = 16, kW = 16;
  xbarnet::core::Rng rng(2026);
  constexpr std::int64_t kCalibration = 8;  // images of the calibration batch
  std::vector<double> w(kOut * kIn * kK * kK), b(kOut);
  const double std_w = std::sqrt(2.0 / static_cast<double>(kIn * kK * kK));
  for (double& v : w) v = std_w * xbarnet::core::normal(rng);
  for (double& v : b) v = 0.05 * xbarnet::core::normal(rng);
  // n feature maps of gratings with noise, clipped at 0 (as after a ReLU).
  const auto images = [&](std::int64_t n_images) {
    std::vector<double> x(n_images * kIn * kH * kW);
    for (std::int64_t n = 0; n < n_images; ++n) {
      for (std::int64_t c = 0; c < kIn; ++c) {
        const double fx = 1.0 + std::floor(3.0 * xbarnet::core::unit_uniform(rng));
        const double fy = 1.0 + std::floor(3.0 * xbarnet::core::unit_uniform(rng));
        const double phase = 2.0 * std::numbers::pi * xbarnet::core::unit_uniform(rng);
        for (std::int64_t y = 0; y < kH; ++y) {
          for (std::int64_t xx = 0; xx < kW; ++xx) {
            const double v =
                0.5 * std::sin(2.0 * std::numbers::pi *
                                   (fx * static_cast<double>(xx) + fy * static_cast<double>(y)) /
                                   static_cast<double>(kW) +
                               phase) +
                0.1 + 0.15 * xbarnet::core::normal(rng);
            x[((n * kIn + c) * kH + y) * kW + xx] = v > 0.0 ? v : 0.0;
          }
        }
      }
    }
    return x;
  };
  const std::vector<double> x = images(kN);
  const std::vector<double> calibration = images(kCalibration);  // drawn after: x is unchanged
  xbarnet::cli::write_npy(dir + "/weights.npy", {kOut, kIn, kK, kK}, w.data());
  xbarnet::cli::write_npy(dir + "/bias.npy", {kOut}, b.data());
  xbarnet::cli::write_npy(dir + "/input.npy", {kN, kIn, kH, kW}, x.data());
  xbarnet::cli::write_npy(dir + "/calibration.npy", {kCalibration, kIn, kH, kW},
                          calibration.data());
  std::cout << "wrote " << dir << "/weights.npy, bias.npy, input.npy, calibration.npy\n";
  return 0;
}
