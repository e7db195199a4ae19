// Every candidate all-reduce schedule the synthesizer offers, not only the cheapest, gives
// the right sums on simulated hierarchies with as many devices as ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include "collectives/mpi/mpi_communicator.h"
#include "collectives/run_schedule.h"
#include "collectives/synthesize.h"

namespace spmd::collectives {
namespace {

struct Hierarchy {
  std::string spec;
  int nodes;
};

// Topologies with exactly `ranks` core devices and as many levels as fit.
std::vector<Hierarchy> hierarchies(int ranks) {
  switch (ranks) {
    case 1: return {{"synthetic:core:1", 1}};
    case 2: return {{"synthetic:core:2", 1}, {"synthetic:core:1", 2}};
    case 3: return {{"synthetic:core:3", 1}, {"synthetic:core:1", 3}};
    case 4: return {{"synthetic:package:2 core:2", 1}, {"synthetic:core:2", 2}};
    case 5: return {{"synthetic:core:5", 1}, {"synthetic:core:1", 5}};
    case 6: return {{"synthetic:package:3 core:2", 1}, {"synthetic:core:3", 2}, {"synthetic:core:2", 3}};
    case 8: return {{"synthetic:package:2 core:2", 2}, {"synthetic:package:2 numa:2 core:2", 1}};
    default: return {};
  }
}

TEST(Schedules, EveryCandidateAllReduceSumsCorrectly) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const int p = world.size();
  int tried = 0;
  for (const Hierarchy& h : hierarchies(p)) {
    launcher::TopologySource source;
    source.spec = h.spec;
    source.nodes = h.nodes;
    source.device = launcher::DeviceKind::core;
    launcher::Topology topology = launcher::load_topology(source);
    ASSERT_EQ(topology.num_devices(), p) << h.spec;
    std::vector<int> devices(p);
    for (int i = 0; i < p; ++i) devices[i] = i;
    ScheduleRunner runner(world, topology, devices);
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1001}}) {
      for (const Schedule& s : synthesize(topology, {Primitive::all_reduce, devices, 4.0 * n})) {
        std::vector<float> data(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) data[i] = static_cast<float>(world.rank() * 1000 + i);
        runner.all_reduce(s, data, ReduceOp::sum);
        for (int64_t i = 0; i < n; ++i) {
          float expected = static_cast<float>(1000 * p * (p - 1) / 2 + p * i);
          ASSERT_EQ(data[i], expected) << h.spec << " x" << h.nodes << ": " << s.name << ", n=" << n << ", i=" << i;
        }
        ++tried;
      }
    }
  }
  if (p > 1) {
    EXPECT_GT(tried, 3);
  }
}

TEST(Schedules, NestedBeatsFlatRingAcrossNodesForLargeMessages) {
  launcher::TopologySource source;
  source.spec = "synthetic:package:2 core:4";
  source.nodes = 4;
  source.device = launcher::DeviceKind::core;
  launcher::Topology t = launcher::load_topology(source);
  std::vector<int> devices(t.num_devices());
  for (int i = 0; i < t.num_devices(); ++i) devices[i] = i;
  std::vector<Schedule> all = synthesize(t, {Primitive::all_reduce, devices, 64.0 * (1 << 20)});
  EXPECT_EQ(all.front().name.rfind("nested", 0), 0u) << all.front().name;
  double flat_ring = 0;
  for (const Schedule& s : all) {
    if (s.name == "flat ring") flat_ring = s.predicted_s;
  }
  EXPECT_LT(all.front().predicted_s, flat_ring);
}

}  // namespace
}  // namespace spmd::collectives

