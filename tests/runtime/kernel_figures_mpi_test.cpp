// Bind's kernel figures are the slowest measuring rank's (runtime/kernel_figures.h), on the
// ranks of mpirun: a step waits for the last rank.
#include <gtest/gtest.h>

#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "launcher/world.h"
#include "runtime/kernel_figures.h"

namespace spmd::runtime {
namespace {

// Figures `speed` times a base for program `g`; none for a rank that did not measure
// (speed 0), as Job::calibrate_device leaves them on the ranks that wait for rank 0.
KernelFigures figures_at(const ir::Graph& g, double speed) {
  KernelFigures f;
  if (speed == 0) return f;
  const size_t ops = ir::all_ops().size();
  f.latency_s = 2e-6 / speed;
  f.best_flops = 100e9 * speed;
  f.flops_by_size = {{32768, 10e9 * speed}, {2.7e8, 90e9 * speed}};
  f.bytes_by_size = {{16384, 40e9 * speed}, {1 << 20, 30e9 * speed}, {1 << 24, 8e9 * speed}};
  f.rates.beyond_cache.assign(ops, 5e9 * speed);
  f.rates.in_cache.assign(ops, 7e9 * speed);
  f.rates.gemms_beyond_cache.assign(gemms_beyond_cache(g).size(), 1e-3 / speed);
  f.gemms_within_s.assign(gemms_within_cache(g).size(), 1e-5 / speed);
  f.fixed_s.assign(ops, 3e-6 / speed);
  f.threads = 1;
  return f;
}

// The last rank is the slowest (speed 1, the others 2 and up), and on 3 ranks or more rank 1
// did not measure: every rank keeps speed 1's figures, each rate the least and each time
// the most, the curves' sizes as they were.
TEST(KernelFigures, EveryRankKeepsTheSlowestMeasuringRanksFigures) {
  launcher::World world;
  const int rank = world.rank(), n = world.size();
  const double speed = rank == n - 1 ? 1.0 : (n >= 3 && rank == 1) ? 0.0 : 2.0 + rank;
  const ir::Graph g = ir::build_model("gpt:layers=1,d_model=64,heads=2,seq=16,vocab=32,batch=2");
  ASSERT_FALSE(gemms_within_cache(g).empty());
  const KernelFigures kept = slowest_kernel_figures(world, g, figures_at(g, speed));
  const KernelFigures slowest = figures_at(g, 1.0);
  EXPECT_DOUBLE_EQ(kept.latency_s, slowest.latency_s);
  EXPECT_DOUBLE_EQ(kept.best_flops, slowest.best_flops);
  EXPECT_EQ(kept.flops_by_size, slowest.flops_by_size);
  EXPECT_EQ(kept.bytes_by_size, slowest.bytes_by_size);
  EXPECT_EQ(kept.rates.beyond_cache, slowest.rates.beyond_cache);
  EXPECT_EQ(kept.rates.in_cache, slowest.rates.in_cache);
  EXPECT_EQ(kept.rates.gemms_beyond_cache, slowest.rates.gemms_beyond_cache);
  EXPECT_EQ(kept.gemms_within_s, slowest.gemms_within_s);
  EXPECT_EQ(kept.fixed_s, slowest.fixed_s);
  EXPECT_EQ(kept.threads, 1);
}

}  // namespace
}  // namespace spmd::runtime
