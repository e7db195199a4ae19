// Fitting alpha, beta and gamma to one algorithm's measured times: the terms are the cost
// model's own, a fit recovers the figures the times were made with, keeps every figure
// non-negative, and says how far off it is.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "collectives/cost.h"
#include "collectives/cost_fit.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

// `bands` of `primitive` with `algorithm` as a profile keeps them.
std::vector<launcher::MeasuredAlgorithm> as_measured(const std::string& primitive, const std::string& algorithm,
                                                     const std::vector<FittedBand>& bands) {
  std::vector<launcher::MeasuredAlgorithm> out;
  for (const FittedBand& b : bands) {
    out.push_back({primitive, algorithm, b.up_to_bytes, b.cost.alpha_s, b.cost.beta_s_per_byte, b.cost.gamma_s_per_byte,
                   b.cost.error, b.cost.offset_s});
  }
  return out;
}

TEST(CostFit, TermsReproduceTheModelsTimeForEveryAlgorithm) {
  const LinkCost link{3e-6, 7e9, 4e9};
  for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}) {
    for (Algorithm a : algorithms_of(primitive)) {
      if (a == Algorithm::native) continue;
      for (int p : {2, 3, 4, 8}) {
        const CostTerms t = cost_terms(primitive, a, p, 1 << 20);
        const FittedCost f{link.latency_s, 1 / link.bandwidth_Bps, 1 / link.reduce_Bps, 0};
        EXPECT_NEAR(f.seconds(t), predicted_seconds(primitive, a, p, 1 << 20, link), 1e-12)
            << primitive << " " << to_string(a) << " p=" << p;
      }
    }
  }
  // The backend's own collective takes the shape of our first algorithm of the primitive.
  const CostTerms native = cost_terms("all_reduce", Algorithm::native, 4, 1024);
  const CostTerms ring = cost_terms("all_reduce", Algorithm::ring, 4, 1024);
  EXPECT_EQ(native.messages, ring.messages);
  EXPECT_EQ(native.bytes, ring.bytes);
  EXPECT_THROW(cost_terms("all_reduce", Algorithm::binomial_tree, 4, 1024), Error);
}

TEST(CostFit, TheFitRecoversTheFiguresTheTimesWereMadeWith) {
  const FittedCost truth{5e-6, 1 / 3e9, 1 / 8e9, 0};
  std::vector<CostTerms> terms;
  std::vector<double> seconds;
  for (double bytes = 4096; bytes <= 64 << 20; bytes *= 4) {
    terms.push_back(cost_terms("all_reduce", Algorithm::ring, 4, bytes));
    seconds.push_back(truth.seconds(terms.back()));
  }
  const FittedCost f = fit_cost(terms, seconds);
  EXPECT_NEAR(f.alpha_s, truth.alpha_s, 1e-3 * truth.alpha_s);
  // The ring's bytes and reduced terms are proportional: only their weighted sum is fixed.
  for (size_t i = 0; i < terms.size(); ++i) EXPECT_NEAR(f.seconds(terms[i]), seconds[i], 1e-6 * seconds[i]);
  EXPECT_LT(f.error, 1e-6);
}

TEST(CostFit, FiguresStayNonNegativeAndTheErrorIsSaid) {
  // Times that fall with size would want a negative beta: it is kept at zero.
  std::vector<CostTerms> terms;
  std::vector<double> seconds;
  for (double bytes = 4096; bytes <= 1 << 20; bytes *= 4) {
    terms.push_back(cost_terms("all_gather", Algorithm::ring, 2, bytes));
    seconds.push_back(1e-3 / (1 + bytes / 4096));
  }
  const FittedCost f = fit_cost(terms, seconds);
  EXPECT_GE(f.alpha_s, 0);
  EXPECT_GE(f.beta_s_per_byte, 0);
  EXPECT_GE(f.gamma_s_per_byte, 0);
  EXPECT_GT(f.error, 0.1);
  EXPECT_THROW(fit_cost(terms, std::vector<double>(1, 1.0)), Error);
}

TEST(CostFit, BandsGiveEveryMeasuredTimeBackAndInterpolateBetween) {
  // A protocol switch at 64 KiB: one line fits neither side.
  std::vector<double> sizes, seconds;
  std::vector<CostTerms> terms;
  for (double bytes = 4096; bytes <= 4 << 20; bytes *= 4) {
    sizes.push_back(bytes);
    terms.push_back(cost_terms("all_gather", Algorithm::ring, 4, bytes));
    seconds.push_back(bytes < 65536 ? 2e-6 + bytes / 1e9 : 40e-6 + bytes / 3e9);
  }
  const std::vector<FittedBand> bands = fit_cost_bands(sizes, terms, seconds);
  ASSERT_EQ(bands.size(), sizes.size());
  EXPECT_EQ(bands.back().up_to_bytes, 0);  // the last band takes any larger size
  EXPECT_EQ(bands.front().up_to_bytes, sizes.front());
  const std::vector<launcher::MeasuredAlgorithm> measured = as_measured("all_gather", "ring", bands);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const launcher::MeasuredAlgorithm* band = measured_band(measured, "all_gather", Algorithm::ring, sizes[i]);
    ASSERT_NE(band, nullptr);
    EXPECT_NEAR(measured_seconds(*band, Algorithm::ring, 4, sizes[i]), seconds[i], 1e-9 * seconds[i]) << sizes[i];
  }
  const double between = std::sqrt(sizes[3] * sizes[4]);
  const double t = measured_seconds(*measured_band(measured, "all_gather", Algorithm::ring, between), Algorithm::ring, 4,
                                    between);
  EXPECT_GT(t, seconds[3]);
  EXPECT_LT(t, seconds[4]);
  // Below the smallest size, that size's time: all latency.
  const launcher::MeasuredAlgorithm* smallest = measured_band(measured, "all_gather", Algorithm::ring, 40);
  EXPECT_DOUBLE_EQ(measured_seconds(*smallest, Algorithm::ring, 4, 40), seconds[0]);
  EXPECT_EQ(measured_band(measured, "all_gather", Algorithm::recursive_doubling, 4096), nullptr);
  EXPECT_EQ(measured_band(measured, "all_reduce", Algorithm::ring, 4096), nullptr);
}

// A buffer that outgrows a cache: from 4 MiB to 16 MiB the time grows 14x. The line through
// those two times has a negative alpha, which its band takes, so that it still gives both
// back; no size costs less than nothing.
TEST(CostFit, ABandWhoseTimeOutgrowsItsSizeStillGivesItsTimesBack) {
  const std::vector<double> sizes = {1 << 20, 4 << 20, 16 << 20};
  const std::vector<double> seconds = {130e-6, 520e-6, 7300e-6};
  std::vector<CostTerms> terms;
  for (double bytes : sizes) terms.push_back(cost_terms("broadcast", Algorithm::scatter_allgather, 2, bytes));
  const std::vector<FittedBand> bands = fit_cost_bands(sizes, terms, seconds);
  ASSERT_EQ(bands.size(), 3u);
  EXPECT_LT(bands[2].cost.alpha_s, 0);
  const std::vector<launcher::MeasuredAlgorithm> measured = as_measured("broadcast", "scatter_allgather", bands);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const launcher::MeasuredAlgorithm* band = measured_band(measured, "broadcast", Algorithm::scatter_allgather, sizes[i]);
    EXPECT_NEAR(measured_seconds(*band, Algorithm::scatter_allgather, 2, sizes[i]), seconds[i], 1e-9 * seconds[i]);
  }
  EXPECT_GT(measured_seconds(measured[2], Algorithm::scatter_allgather, 2, 64 << 20), seconds[2]);  // grows beyond
  EXPECT_EQ(measured_seconds(measured[2], Algorithm::scatter_allgather, 2, 1024), 0);  // never below zero
}


// A pipelined chain's terms both count its 512 KiB segments: from 1 MiB to 4 MiB its
// messages and bytes grow 4x alike, and a time that grows 7.7x (measured: 53 us, then
// 410 us) lies on no line of theirs. The band takes one term plus a constant and still
// gives both times back, and the constant travels with the band.
TEST(CostFit, ABandOfTermsGrowingInProportionStillGivesItsTimesBack) {
  const std::vector<double> sizes = {256 << 10, 1 << 20, 4 << 20};
  const std::vector<double> seconds = {15e-6, 53e-6, 410e-6};
  std::vector<CostTerms> terms;
  for (double bytes : sizes) terms.push_back(cost_terms("broadcast", Algorithm::pipelined_chain, 2, bytes));
  ASSERT_DOUBLE_EQ(terms[2].messages / terms[1].messages, terms[2].bytes / terms[1].bytes);  // the premise
  const std::vector<FittedBand> bands = fit_cost_bands(sizes, terms, seconds);
  ASSERT_EQ(bands.size(), 3u);
  EXPECT_LE(bands[2].cost.error, 1e-9);
  EXPECT_NE(bands[2].cost.offset_s, 0);
  const std::vector<launcher::MeasuredAlgorithm> measured = as_measured("broadcast", "pipelined_chain", bands);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const launcher::MeasuredAlgorithm* band = measured_band(measured, "broadcast", Algorithm::pipelined_chain, sizes[i]);
    EXPECT_NEAR(measured_seconds(*band, Algorithm::pipelined_chain, 2, sizes[i]), seconds[i], 1e-9 * seconds[i]);
  }
  EXPECT_GT(measured_seconds(measured[2], Algorithm::pipelined_chain, 2, 16 << 20), seconds[2]);  // grows beyond
}

}  // namespace
}  // namespace spmd::collectives
