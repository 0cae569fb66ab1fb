#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "netlists/crossbar.hpp"

namespace xbarnet {
namespace {

using netlists::Crossbar;

Crossbar small() { return Crossbar::uniform(Eigen::MatrixXd::Constant(3, 4, 1e-5), 10, 1, 2, 20); }

void expect_message(const Crossbar& x, const std::string& text) {
  const Status s = netlists::validate(x);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(text), std::string::npos) << s.message();
}

TEST(Validate, AcceptsAValidTileIncludingZerosAndOpens) {
  Crossbar x = small();
  x.r_source(0) = 0.0;
  x.r_neuron(1) = netlists::kOpen;
  x.conductance(2, 2) = 0.0;
  EXPECT_TRUE(netlists::validate(x).is_ok());
}

TEST(Validate, NamesFieldIndexValueAndRule) {
  Crossbar x = small();
  x.r_source(1) = -5.0;
  expect_message(x, "r_source[1] = -5 ohm: must be >= 0 (0 = ideal wire, +inf = open)");
  x = small();
  x.r_wordline(2, 1) = std::nan("");
  expect_message(x, "r_wordline[2,1] = nan ohm");
  x = small();
  x.r_bitline(1, 3) = -std::numeric_limits<double>::infinity();
  expect_message(x, "r_bitline[1,3] = -inf ohm");
  x = small();
  x.r_neuron(3) = -1e-3;
  expect_message(x, "r_neuron[3] = -0.001 ohm");
}

TEST(Validate, ConductancesMustBeFiniteAndNonNegative) {
  Crossbar x = small();
  x.conductance(0, 3) = std::numeric_limits<double>::infinity();
  expect_message(x, "conductance[0,3] = inf S: must be finite and >= 0");
  x.conductance(0, 3) = -1e-6;
  expect_message(x, "conductance[0,3] = -1e-06 S");
}

TEST(Validate, ShapesAreChecked) {
  Crossbar x = small();
  x.r_source.resize(2);
  expect_message(x, "r_source has shape 2x1, expected 3x1 (one per row)");
  x = small();
  x.r_wordline.resize(3, 4);
  expect_message(x, "r_wordline has shape 3x4, expected 3x3 (rows x (cols-1) segments)");
  x = small();
  x.r_bitline.resize(3, 4);
  expect_message(x, "r_bitline has shape 3x4, expected 2x4");
  x = small();
  x.r_neuron.resize(5);
  expect_message(x, "r_neuron has shape 5x1, expected 4x1 (one per column)");
  x.conductance.resize(0, 4);
  expect_message(x, "a crossbar needs at least one row and one column");
}

TEST(Validate, InputsMustBeFiniteAndOfTheRightLength) {
  const Crossbar x = small();
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(2, 3);
  EXPECT_TRUE(netlists::validate_inputs(x, v).is_ok());
  v(1, 2) = std::nan("");
  EXPECT_NE(netlists::validate_inputs(x, v).message().find("inputs[1,2] = nan V: must be finite"),
            std::string::npos);
  EXPECT_FALSE(netlists::validate_inputs(x, Eigen::MatrixXd::Zero(2, 4)).is_ok());
}

TEST(Names, FollowTheDesign) {
  EXPECT_EQ(netlists::input_node_name(3), "in3");
  EXPECT_EQ(netlists::word_node_name(3, 5), "w3_5");
  EXPECT_EQ(netlists::bit_node_name(0, 12), "b0_12");
}

}  // namespace
}  // namespace xbarnet
