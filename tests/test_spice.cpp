#include <gtest/gtest.h>

#include <fmt/format.h>
#include <filesystem>
#include <random>
#include <regex>

#include <sstream>

#include "netlists/spice.hpp"
#include "solver/crossbar_system.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"
#include "validation/spice_check.hpp"

namespace xbarnet {
namespace {

using netlists::Crossbar;

std::string export_text(const Crossbar& x, const Eigen::MatrixXd& v) {
  std::ostringstream out;
  EXPECT_TRUE(netlists::write_spice(out, x, v).is_ok());
  return out.str();
}

TEST(SpiceExport, ZeroResistancesBecomeZeroVoltSourcesAndOpensAreLeftOut) {
  Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(2, 3, 1e-4), 0.0, 2.0, 0.0, 50.0);
  x.r_wordline(1, 0) = netlists::kOpen;
  x.r_neuron(2) = 0.0;
  x.conductance(0, 1) = 0.0;
  const std::string text = export_text(x, Eigen::MatrixXd::Constant(1, 2, 0.1));
  // No resistor line has a zero value.
  EXPECT_FALSE(
      std::regex_search(text, std::regex(R"(^R\S+ \S+ \S+ 0\s*$)", std::regex::multiline)));
  EXPECT_NE(text.find("Vs0 in0 w0_0 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("Vb0_1 b0_1 b1_1 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("* w1_0 w1_0 w1_1 open\n"), std::string::npos);
  EXPECT_NE(text.find("Vn2 b1_2 vg2 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("Rn0 b1_0 vg0 50\n"), std::string::npos);
  EXPECT_NE(text.find("Vcol0 vg0 0 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("Vcol2 vg2 0 DC 0\n"), std::string::npos);
  EXPECT_NE(text.find("* Rc0_1 omitted: G = 0\n"), std::string::npos);
  EXPECT_NE(text.find("Rc0_0 w0_0 b0_0 10000\n"), std::string::npos);
}

TEST(SpiceExport, SeveralInputVectorsUseAlter) {
  const Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(2, 2, 1e-4), 10, 1, 1, 10);
  Eigen::MatrixXd v(2, 2);
  v << 0.1, 0.2, 0.1, 0.3;
  const std::string text = export_text(x, v);
  EXPECT_NE(text.find("alter vin1 dc = 0.29999999999999999\n"), std::string::npos);
  EXPECT_EQ(text.find("alter vin0"), std::string::npos);  // unchanged inputs are not altered
  EXPECT_NE(text.find("echo xbarnet-input 1\n"), std::string::npos);
}

// What write_spice writes, read_spice reads back: the same crossbar and inputs.
TEST(SpiceImport, RoundTripsWhatItExports) {
  std::mt19937_64 rng(50);
  for (int trial = 0; trial < 20; ++trial) {
    const auto tile = validation::random_tile(rng, 9, 3);
    netlists::Crossbar x = tile.xbar;
    if (x.cols() > 1 && trial % 3 == 0) x.r_wordline(0, 0) = netlists::kOpen;
    if (trial % 4 == 0) x.r_neuron(0) = netlists::kOpen;
    Eigen::MatrixXd inputs = tile.inputs;
    inputs(0, 0) = -0.25;  // inputs may be negative (a finding of the SPICE fuzzer)
    std::stringstream text;
    ASSERT_TRUE(netlists::write_spice(text, x, inputs).is_ok());
    auto deck = netlists::read_spice(text);
    ASSERT_TRUE(deck.is_ok()) << deck.status().to_string() << "\n" << text.str();
    EXPECT_EQ(deck.value().xbar.r_source, x.r_source);
    EXPECT_EQ(deck.value().xbar.r_wordline, x.r_wordline);
    EXPECT_EQ(deck.value().xbar.r_bitline, x.r_bitline);
    EXPECT_EQ(deck.value().xbar.r_neuron, x.r_neuron);
    EXPECT_EQ(deck.value().inputs, inputs);
    const Eigen::MatrixXd& g = deck.value().xbar.conductance;
    EXPECT_LE((g - x.conductance).cwiseAbs().maxCoeff(),
              4e-16 * x.conductance.cwiseAbs().maxCoeff());
  }
  std::istringstream junk("* 2 rows x 2 columns, 1 input vector(s).\nQ1 a b 3\n.end\n");
  auto bad = netlists::read_spice(junk);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("line 2: 'Q1 a b 3' is not an element xbarnet writes"),
            std::string::npos)
      << bad.status().message();
}

TEST(SpiceExport, RejectsInvalidTiles) {
  Crossbar x = Crossbar::uniform(Eigen::MatrixXd::Constant(2, 2, 1e-4), 10, 1, 1, 10);
  x.r_source(0) = -1;
  std::ostringstream out;
  EXPECT_FALSE(netlists::write_spice(out, x, Eigen::MatrixXd::Zero(1, 2)).is_ok());
  EXPECT_TRUE(out.str().empty());
}

TEST(NgspiceOutput, ParsesCurrentsPerInputVector) {
  const std::string out =
      "Circuit: x\nxbarnet-input 0\ni(vcol0) = 1.5e-05\ni(vcol1) = -2.25e-06\n"
      "xbarnet-input 1\ni(vcol1) = 3e-06\n";
  auto m = validation::parse_ngspice_currents(out, 2, 2);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m.value()(0, 0), 1.5e-05);
  EXPECT_EQ(m.value()(0, 1), -2.25e-06);
  EXPECT_EQ(m.value()(1, 0), 0.0);
  EXPECT_EQ(m.value()(1, 1), 3e-06);
  EXPECT_FALSE(validation::parse_ngspice_currents(out, 3, 2).is_ok());
}

// The small cases of validation/: xbarnet against ngspice on random tiles with zeros.
TEST(Ngspice, RandomSmallTilesAgreeToOnePartPerBillion) {
  if (!validation::ngspice_available()) GTEST_SKIP() << "ngspice not installed";
  std::mt19937_64 rng(2026);
  const auto dir = testing::scratch_path("ngspice");
  std::filesystem::create_directories(dir);
  for (int n = 0; n < 6; ++n) {
    const auto tile = validation::random_tile(rng, 12, 2);
    auto spice = validation::run_ngspice(tile.xbar, tile.inputs, dir / fmt::format("t{}.cir", n));
    ASSERT_TRUE(spice.is_ok()) << spice.status().to_string();
    auto ours = solver::solve_crossbar(tile.xbar, tile.inputs);
    ASSERT_TRUE(ours.is_ok()) << ours.status().to_string();
    EXPECT_LE(
        validation::max_relative_difference(ours.value().solution.column_current, spice.value()),
        1e-9)
        << tile.description;
  }
}

TEST(Ngspice, TwoByTwoWorkedExample) {
  if (!validation::ngspice_available()) GTEST_SKIP() << "ngspice not installed";
  Eigen::MatrixXd g(2, 2);
  g << 1.0 / 1000, 1.0 / 500, 1.0 / 250, 1.0 / 200;
  const Crossbar x = Crossbar::uniform(g, 0.0, 100.0, 100.0, 0.0);
  Eigen::MatrixXd v(1, 2);
  v << 1.0, 0.5;
  auto spice = validation::run_ngspice(x, v, testing::scratch_path("2x2.cir"));
  ASSERT_TRUE(spice.is_ok()) << spice.status().to_string();
  EXPECT_NEAR(spice.value()(0, 0), 1.0 / 1100 + 0.5 / 250, 1e-12);
  EXPECT_NEAR(spice.value()(0, 1), 1.0 / 700 + 0.5 / 300, 1e-12);
}

}  // namespace
}  // namespace xbarnet
