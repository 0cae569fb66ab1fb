#include <gtest/gtest.h>

#include "devices/device.hpp"

namespace xbarnet {
namespace {

using devices::DeviceParams;

TEST(Devices, DifferentialPairStoresTheWeightAsADifference) {
  DeviceParams p;  // 10 kOhm / 100 kOhm
  const devices::WeightMap m(p, 2.0);
  EXPECT_DOUBLE_EQ(m.g_min(), 1e-5);
  EXPECT_DOUBLE_EQ(m.g_max(), 1e-4);
  const auto [gp, gn] = m.pair(-1.5);
  EXPECT_DOUBLE_EQ(gp, 1e-5);
  EXPECT_NEAR(gn - gp, m.scale() * 1.5, 1e-20);
  EXPECT_DOUBLE_EQ(m.pair(2.0).first, 1e-4);  // the largest weight at G_max
}

TEST(Devices, ReferenceColumnSpansGminToGmax) {
  DeviceParams p;
  p.sign = devices::SignScheme::kReference;
  const devices::WeightMap m(p, 4.0);
  EXPECT_DOUBLE_EQ(m.single(-4.0), 1e-5);
  EXPECT_DOUBLE_EQ(m.single(4.0), 1e-4);
  EXPECT_DOUBLE_EQ(m.single(0.0), m.g_ref());
}

TEST(Devices, Quantization) {
  DeviceParams p;
  p.quantization = devices::Quantization::kBinary;
  EXPECT_EQ(devices::WeightMap(p, 2.0).quantize(0.1), 2.0);
  EXPECT_EQ(devices::WeightMap(p, 2.0).quantize(-0.1), -2.0);
  p.quantization = devices::Quantization::kTernary;
  p.ternary_threshold = 0.5;
  EXPECT_EQ(devices::WeightMap(p, 2.0).quantize(0.9), 0.0);
  EXPECT_EQ(devices::WeightMap(p, 2.0).quantize(-1.1), -2.0);
  p.quantization = devices::Quantization::kLevels;
  p.weight_bits = 2;  // 4 levels per device: magnitudes 0, 1/3, 2/3, 1 of w_max
  EXPECT_DOUBLE_EQ(devices::WeightMap(p, 3.0).quantize(1.4), 1.0);
  EXPECT_DOUBLE_EQ(devices::WeightMap(p, 3.0).quantize(-2.6), -3.0);
}

TEST(Devices, InputsBecomeVoltages) {
  DeviceParams p;
  p.v_read = 0.25;
  const devices::InputMap analog(p, 2.0, false);
  EXPECT_DOUBLE_EQ(analog.voltage(1.0), 0.125);
  p.input_bits = 1;  // 0 or full scale
  const devices::InputMap dac(p, 2.0, false);
  EXPECT_DOUBLE_EQ(dac.voltage(0.9), 0.0);
  EXPECT_DOUBLE_EQ(dac.voltage(1.1), 0.25);
}

TEST(Devices, AdcIsAMidRiseQuantizer) {
  EXPECT_EQ(devices::adc(0.3, 0, 1.0), 0.3);  // ideal
  EXPECT_EQ(devices::adc(0.3, 1, 1.0), 0.5);  // sense amplifier: the sign
  EXPECT_EQ(devices::adc(-1e-9, 1, 1.0), -0.5);
  EXPECT_EQ(devices::adc(0.3, 2, 1.0), 0.25);  // steps of 0.5: levels -0.75 -0.25 0.25 0.75
  EXPECT_EQ(devices::adc(7.0, 2, 1.0), 0.75);  // clipped
  EXPECT_NEAR(devices::adc(0.123456, 12, 1.0), 0.123456, 1.0 / 4096);
}

TEST(Devices, ValidationNamesTheField) {
  DeviceParams p;
  p.r_hrs = 5e3;
  EXPECT_NE(devices::validate(p).message().find(
                "r_hrs = 5000 ohm: must be finite and in 0.001 .. 1e+18 and > r_lrs (= 10000 ohm)"),
            std::string::npos);
  p = {};
  p.adc_bits = 20;
  EXPECT_NE(devices::validate(p).message().find("adc_bits = 20 bit"), std::string::npos);
}

}  // namespace
}  // namespace xbarnet
