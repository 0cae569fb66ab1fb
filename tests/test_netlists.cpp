#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "netlists/crossbar.hpp"
#include "netlists/netlist.hpp"

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
  expect_message(x, "r_source[1] = -5 ohm: must be >= 0 or +inf (0 = ideal element, +inf = open)");
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

// The element list of DESIGN.md: every element once, by kind, in order, with its value.
TEST(Netlist, ElementsOfA3x4Crossbar) {
  netlists::Crossbar x =
      netlists::Crossbar::uniform(Eigen::MatrixXd::Constant(3, 4, 2e-5), 10.0, 1.5, 2.5, 30.0);
  x.conductance(1, 2) = 7e-5;
  x.r_bitline(0, 3) = netlists::kOpen;
  const netlists::Netlist n = netlists::build_netlist(x);
  // 3 inputs, 3 sources, 3 x 3 word-line segments, 12 cells, 2 x 4 bit-line segments,
  // 4 neurons, 4 senses.
  EXPECT_EQ(n.elements.size(), 3u + 3 + 9 + 12 + 8 + 4 + 4);
  EXPECT_EQ(n.first_source, 3);
  EXPECT_EQ(n.first_wordline, 6);
  EXPECT_EQ(n.first_cell, 15);
  EXPECT_EQ(n.first_bitline, 27);
  EXPECT_EQ(n.first_neuron, 35);
  EXPECT_EQ(n.first_sense, 39);
  const netlists::Element& cell = n.cell(1, 2);
  EXPECT_EQ(cell.kind, netlists::ElementKind::kCell);
  EXPECT_EQ(cell.model, netlists::CellModel::kLinear);
  EXPECT_EQ(cell.value, 7e-5);
  EXPECT_EQ(n.nodes.name(cell.a), "w1_2");
  EXPECT_EQ(n.nodes.name(cell.b), "b1_2");
  EXPECT_EQ(n.position(cell), (std::pair<Eigen::Index, Eigen::Index>{1, 2}));
  const netlists::Element& open = n.elements[n.first_bitline + 3];  // b(0,3) - b(1,3)
  EXPECT_TRUE(std::isinf(open.value));
  EXPECT_EQ(n.nodes.name(open.a), "b0_3");
  EXPECT_EQ(n.nodes.name(open.b), "b1_3");
  EXPECT_EQ(n.nodes.name(n.neuron(3).a), "b2_3");
  EXPECT_EQ(n.nodes.name(n.neuron(3).b), "vg3");
  EXPECT_EQ(n.neuron(3).value, 30.0);
  const netlists::Element& sense = n.elements[n.first_sense + 1];
  EXPECT_EQ(n.nodes.name(sense.a), "vg1");
  EXPECT_EQ(sense.b, netlists::NodeNumbering::ground());
  EXPECT_EQ(n.position(sense), (std::pair<Eigen::Index, Eigen::Index>{2, 1}));
  const netlists::Element& source = n.elements[n.first_source + 2];
  EXPECT_EQ(n.nodes.name(source.a), "in2");
  EXPECT_EQ(n.nodes.name(source.b), "w2_0");
  EXPECT_EQ(n.nodes.count(), 1 + 3 + 2 * 12 + 4);
}

TEST(Names, FollowTheDesign) {
  EXPECT_EQ(netlists::input_node_name(3), "in3");
  EXPECT_EQ(netlists::word_node_name(3, 5), "w3_5");
  EXPECT_EQ(netlists::bit_node_name(0, 12), "b0_12");
}

}  // namespace
}  // namespace xbarnet
