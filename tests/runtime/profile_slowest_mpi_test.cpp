// The profile's kernel figures are the slowest measuring rank's (runtime/profile_run.h's
// keep_slowest_kernels), on the ranks of mpirun: a step waits for the last rank.
#include <gtest/gtest.h>

#include <string>

#include "launcher/world.h"
#include "runtime/profile_run.h"

namespace spmd::runtime {
namespace {

// Kernel figures `speed` times a base; all 0 for a rank that did not measure (speed 0).
partitioner::Profile figures_at(double speed) {
  partitioner::Profile p;
  p.matmul_flops = 100e9 * speed;
  p.memory_Bps = 10e9 * speed;
  p.op_latency_s = speed > 0 ? 2e-6 / speed : 0;
  p.matmul_by_size = {{1e6, 50e9 * speed}, {1e9, 90e9 * speed}};
  p.memory_by_size = {{1e4, 20e9 * speed}};
  p.matmul_by_shape = {{16, 16, 16, 1e9 * speed}};
  return p;
}

// The last rank is the slowest (speed 1, the others 2 and up), and on 3 ranks or more rank 1
// did not measure: every rank keeps speed 1's figures, each rate the least and the latency
// the most, and says them.
TEST(SlowestKernels, EveryRankKeepsTheSlowestMeasuringRanksFigures) {
  launcher::World world;
  const int rank = world.rank(), n = world.size();
  const double speed = rank == n - 1 ? 1.0 : (n >= 3 && rank == 1) ? 0.0 : 2.0 + rank;
  partitioner::Profile p = figures_at(speed);
  std::string table;
  keep_slowest_kernels(world, p, table);
  const partitioner::Profile slowest = figures_at(1.0);
  const auto near = [](double a, double b) { EXPECT_NEAR(a, b, 1e-6 * b); };
  near(p.matmul_flops, slowest.matmul_flops);
  near(p.memory_Bps, slowest.memory_Bps);
  near(p.op_latency_s, slowest.op_latency_s);
  ASSERT_EQ(p.matmul_by_size.size(), 2u);
  near(p.matmul_by_size[1].second, slowest.matmul_by_size[1].second);
  EXPECT_EQ(p.matmul_by_size[1].first, 1e9);
  near(p.memory_by_size[0].second, slowest.memory_by_size[0].second);
  near(p.matmul_by_shape[0].flops_per_s, slowest.matmul_by_shape[0].flops_per_s);
  if (n > 1) {
    EXPECT_NE(table.find("kept, the slowest measuring rank's: add 1 element 2.000 us, matmul 100.0 GFLOP/s"),
              std::string::npos)
        << table;
  }
}

}  // namespace
}  // namespace spmd::runtime
