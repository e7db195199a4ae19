// The alpha-beta-gamma formulas, and the choices they imply (Thakur et al. 2005, sec. 4).
#include <cmath>

#include <gtest/gtest.h>

#include "collectives/cost.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

// Only the term under test: no latency, no reduction cost.
LinkCost bandwidth_only() { return {.latency_s = 0.0, .bandwidth_Bps = 1e9, .reduce_Bps = 1e300}; }
LinkCost latency_only() { return {.latency_s = 1e-6, .bandwidth_Bps = 1e300, .reduce_Bps = 1e300}; }

TEST(CostTest, RingAllReduceMovesTwiceTheFractionOfTheBuffer) {
  const double n = 1 << 20;
  for (int p : {2, 3, 8, 13}) {
    EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::ring, p, n, bandwidth_only()),
                     2.0 * (p - 1) / p * n / 1e9)
        << p << " ranks";
    EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::ring, p, n, latency_only()), 2.0 * (p - 1) * 1e-6);
  }
}

TEST(CostTest, LatencyTermsCountTheSteps) {
  const LinkCost link = latency_only();
  EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::recursive_doubling, 8, 64, link), 3e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::recursive_halving_doubling, 8, 64, link), 6e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::scattered, 8, 64, link), 14e-6);  // as the ring
  // 6 ranks fold onto 4: two more steps.
  EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::recursive_doubling, 6, 64, link), 4e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("all_gather", Algorithm::recursive_doubling, 5, 64, link), 3e-6);  // Bruck
  // Scattered: each rank's messages leave one at a time (single-port), as the ring's rounds.
  EXPECT_DOUBLE_EQ(predicted_seconds("all_gather", Algorithm::scattered, 5, 64, link), 4e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("all_gather", Algorithm::ring, 5, 64, link), 4e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("broadcast", Algorithm::binomial_tree, 5, 64, link), 3e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("broadcast", Algorithm::scattered, 5, 64, link), 4e-6);  // a flat tree
  EXPECT_DOUBLE_EQ(predicted_seconds("all_to_all", Algorithm::pairwise, 5, 64, link), 4e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("all_to_all", Algorithm::scattered, 5, 64, link), 4e-6);
  EXPECT_DOUBLE_EQ(predicted_seconds("reduce_scatter", Algorithm::scattered, 5, 64, link), 4e-6);
}

TEST(CostTest, NonPowerOfTwoCostsMoreThanThePowerBelow) {
  const LinkCost link;
  for (Algorithm a : {Algorithm::recursive_doubling, Algorithm::recursive_halving_doubling}) {
    EXPECT_GT(predicted_seconds("all_reduce", a, 9, 1e6, link), predicted_seconds("all_reduce", a, 8, 1e6, link));
  }
  EXPECT_GT(predicted_seconds("reduce_scatter", Algorithm::recursive_halving_doubling, 5, 1e6, link),
            predicted_seconds("reduce_scatter", Algorithm::recursive_halving_doubling, 4, 1e6, link));
}

// Thakur et al.'s cut-over on p = 8 with 2 us / 12.5 GB/s: recursive doubling for short
// vectors, the bandwidth-optimal ones for long.
TEST(CostTest, ShortAllReduceByRecursiveDoublingLongByRabenseifnerOrRing) {
  const LinkCost link{.latency_s = 2e-6, .bandwidth_Bps = 12.5e9};
  const auto best = [&](double bytes) {
    Algorithm winner = Algorithm::ring;
    for (Algorithm a : algorithms_of("all_reduce")) {
      if (a == Algorithm::native || a == Algorithm::shared_memory) continue;  // message passing only
      if (predicted_seconds("all_reduce", a, 8, bytes, link) < predicted_seconds("all_reduce", winner, 8, bytes, link)) {
        winner = a;
      }
    }
    return winner;
  };
  EXPECT_EQ(best(4096), Algorithm::recursive_doubling);
  const Algorithm large = best(64.0 * (1 << 20));
  EXPECT_TRUE(large == Algorithm::ring || large == Algorithm::recursive_halving_doubling) << to_string(large);
}

TEST(CostTest, BroadcastScatterAllgatherWinsForLongMessages) {
  const LinkCost link;
  EXPECT_LT(predicted_seconds("broadcast", Algorithm::binomial_tree, 16, 1024, link),
            predicted_seconds("broadcast", Algorithm::scatter_allgather, 16, 1024, link));
  EXPECT_GT(predicted_seconds("broadcast", Algorithm::binomial_tree, 16, 64e6, link),
            predicted_seconds("broadcast", Algorithm::scatter_allgather, 16, 64e6, link));
}

// The pipelined chain moves a long message about once over every link at the same time: it
// beats van de Geijn's 2 (p-1)/p n beta there, and loses to the tree where p - 2 latencies
// of filling the chain dominate.
TEST(CostTest, BroadcastPipelinedChainWinsForLongMessagesOverManyRanks) {
  const LinkCost link;
  EXPECT_LT(predicted_seconds("broadcast", Algorithm::pipelined_chain, 16, 64e6, link),
            predicted_seconds("broadcast", Algorithm::scatter_allgather, 16, 64e6, link));
  EXPECT_GT(predicted_seconds("broadcast", Algorithm::pipelined_chain, 16, 1024, link),
            predicted_seconds("broadcast", Algorithm::binomial_tree, 16, 1024, link));
  // One segment's steps: p - 1 of them, the whole message each.
  EXPECT_DOUBLE_EQ(predicted_seconds("broadcast", Algorithm::pipelined_chain, 5, 64, link),
                   4 * (link.latency_s + 64 / link.bandwidth_Bps));
}

// The flat tree sends the whole message from the root once per other rank, one after another
// over the root's port: p - 1 times what a binomial tree's step costs.
TEST(CostTest, ScatteredBroadcastPaysTheRootsCopiesOneAfterAnother) {
  EXPECT_DOUBLE_EQ(predicted_seconds("broadcast", Algorithm::scattered, 5, 1e6, bandwidth_only()),
                   4 * 1e6 / 1e9);
  EXPECT_DOUBLE_EQ(predicted_seconds("broadcast", Algorithm::scattered, 5, 1e6, latency_only()), 4e-6);
  const LinkCost link;
  EXPECT_GT(predicted_seconds("broadcast", Algorithm::scattered, 16, 64e6, link),
            predicted_seconds("broadcast", Algorithm::binomial_tree, 16, 64e6, link));
}

TEST(CostTest, NativeIsTheBestOfTheOthers) {
  const LinkCost link;
  for (double bytes : {4096.0, 64e6}) {
    EXPECT_DOUBLE_EQ(predicted_seconds("all_reduce", Algorithm::native, 8, bytes, link),
                     std::min({predicted_seconds("all_reduce", Algorithm::ring, 8, bytes, link),
                               predicted_seconds("all_reduce", Algorithm::recursive_doubling, 8, bytes, link),
                               predicted_seconds("all_reduce", Algorithm::recursive_halving_doubling, 8, bytes, link)}));
  }
}

TEST(CostTest, OneRankCostsNothing) {
  for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}) {
    for (Algorithm a : algorithms_of(primitive)) EXPECT_EQ(predicted_seconds(primitive, a, 1, 1e6, LinkCost{}), 0.0);
  }
}

// A time read back as alpha gives the alpha it was predicted with, for every algorithm and
// rank count, powers of two or not; one rank has no message to charge it to, and native
// (the best of several) no one formula to read it from.
TEST(CostTest, LatencyOfReadsAPredictedTimeBackAsItsLatency) {
  const LinkCost link{30e-6, 8e9, 5e9};
  for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}) {
    for (Algorithm a : algorithms_of(primitive)) {
      if (a == Algorithm::native) continue;
      for (int p : {2, 3, 4, 7}) {
        const double t = predicted_seconds(primitive, a, p, 12288, link);
        EXPECT_NEAR(latency_of(primitive, a, p, 12288, t, link), 30e-6, 1e-12) << primitive << " " << to_string(a) << " " << p;
        EXPECT_GT(latency_of(primitive, a, p, 12288, 2 * t, link), 30e-6) << primitive << " " << to_string(a) << " " << p;
      }
    }
  }
  EXPECT_FALSE(std::isfinite(latency_of("all_gather", Algorithm::ring, 1, 4096, 1e-5, link)));
  EXPECT_THROW(latency_of("all_gather", Algorithm::native, 4, 4096, 1e-5, link), Error);
}

// A time read back as bandwidth gives the bandwidth it was predicted with, for every
// algorithm and rank count; a slower time a lower bandwidth, one that leaves the bytes no
// time none at all.
TEST(CostTest, BandwidthOfReadsAPredictedTimeBackAsItsBandwidth) {
  const LinkCost link{30e-6, 8e9, 5e9};
  for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}) {
    for (Algorithm a : algorithms_of(primitive)) {
      if (a == Algorithm::native) continue;
      for (int p : {2, 3, 4, 7}) {
        const double t = predicted_seconds(primitive, a, p, 1 << 20, link);
        EXPECT_NEAR(bandwidth_of(primitive, a, p, 1 << 20, t, link), 8e9, 1e-3) << primitive << " " << to_string(a) << " " << p;
        EXPECT_LT(bandwidth_of(primitive, a, p, 1 << 20, 2 * t, link), 8e9) << primitive << " " << to_string(a) << " " << p;
      }
    }
  }
  EXPECT_FALSE(std::isfinite(bandwidth_of("all_gather", Algorithm::ring, 4, 1 << 20, 3 * 30e-6, link)));
  EXPECT_FALSE(std::isfinite(bandwidth_of("all_gather", Algorithm::ring, 1, 4096, 1e-5, link)));
  EXPECT_THROW(bandwidth_of("all_gather", Algorithm::native, 4, 4096, 1e-5, link), Error);
}

TEST(CostTest, UnknownPrimitiveOrAlgorithmIsAnError) {
  EXPECT_THROW(predicted_seconds("all_scatter", Algorithm::ring, 4, 1, LinkCost{}), Error);
  EXPECT_THROW(predicted_seconds("all_to_all", Algorithm::ring, 4, 1, LinkCost{}), Error);
}

}  // namespace
}  // namespace spmd::collectives
