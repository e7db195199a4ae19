// Prefetching ZeRO's param gathers (schedule.h's depth, prefetch.h's choice of it).
#include <gtest/gtest.h>

#include <algorithm>

#include "ir/ops.h"
#include "partitioner/prefetch.h"
#include "partitioner/search.h"
#include "partitioner/simulator.h"
#include "tests/partitioner/small_gpt.h"

namespace spmd::partitioner {
namespace {

Program zero_ops(int devices) {
  const ir::Graph g = small_gpt_step();
  return lower_ops(g, strategy_plan(g, "zero", devices));
}

// The most gathers of params in flight at once: issued, their result not yet read.
int most_in_flight(const ir::Graph& g) {
  std::vector<ir::ValueId> first_read(g.nodes.size(), g.size());
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    for (ir::ValueId x : g.node(v).inputs) first_read[x] = std::min(first_read[x], v);
  }
  int most = 0;
  for (ir::ValueId at = 0; at < g.size(); ++at) {
    int in_flight = 0;
    for (ir::ValueId v = 0; v <= at; ++v) {
      const bool gather = ir::op_traits(g.node(v).op).collective && g.node(g.node(v).inputs.at(0)).is_source();
      if (gather && first_read[v] > at) ++in_flight;
    }
    most = std::max(most, in_flight);
  }
  return most;
}

TEST(Prefetch, ADeeperPrefetchHasMoreGathersInFlightAndEveryOperandStaysBeforeItsUsers) {
  // (A gather issued ahead of its param's node takes the node along: a source reads nothing.)
  const Program ops = zero_ops(4);
  int before = 0;
  for (int depth : {0, 1, 4}) {
    const Program p = finish_lowering(ops, false, depth);
    for (ir::ValueId v = 0; v < p.graph.size(); ++v) {
      for (ir::ValueId x : p.graph.node(v).inputs) EXPECT_LT(x, v) << "depth " << depth;
    }
    const int in_flight = most_in_flight(p.graph);
    if (depth == 4) {
      EXPECT_GT(in_flight, before) << "depth " << depth;
    } else {
      EXPECT_GE(in_flight, before) << "depth " << depth;
    }
    before = in_flight;
  }
}

// Where a gather takes far longer than the op before its reader, issuing more ahead hides
// more of it, and the cost model goes deeper; within a memory limit that only depth 0
// meets, it keeps that.
TEST(Prefetch, TheCostModelGoesDeeperWhereGathersAreSlowAndStaysWithinTheMemoryLimit) {
  const Program ops = zero_ops(4);
  const launcher::Topology flat = flat_topology(4);
  const launcher::Topology slow = flat.with_links(std::vector<launcher::LinkModel>(flat.levels().size(), {1e-5, 1e9}));
  const Mesh mesh{{"data"}, {4}};
  CollectiveCosts costs(mesh, slow);
  DeviceModel device = device_model(slow);
  device.comm_shares_core = false;  // prefetching hides gathers only behind a core's compute
  const int depth = prefetch_depth(ops, false, device, costs, 0);
  EXPECT_GT(depth, 1);
  EXPECT_LT(simulate(finish_lowering(ops, false, depth), device, costs).step_time_s,
            simulate(finish_lowering(ops, false, 1), device, costs).step_time_s);
  const size_t least = simulate(finish_lowering(ops, false, 0), device, costs).peak_bytes;
  const size_t one = simulate(finish_lowering(ops, false, 1), device, costs).peak_bytes;
  if (one > least) {
    EXPECT_EQ(prefetch_depth(ops, false, device, costs, static_cast<std::int64_t>(least)), 0);
  }
}

}  // namespace
}  // namespace spmd::partitioner
