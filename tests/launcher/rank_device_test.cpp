// The device of one rank of the live job, on nodes read from files (where hwloc reports no
// binding, so a rank has all the node's PUs).
#include "launcher/rank_device.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "launcher/hwloc_handle.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

using testing::topology_file;

TEST(RankDevice, GpuNodeGivesEachLocalRankItsGpu) {
  HwlocTopology dgx2 = load_hwloc_topology(topology_file("nvidiaDGX2.xml"));
  DeviceRecord third = rank_device(dgx2.get(), 2, std::nullopt, nullptr);
  EXPECT_EQ(third.device.kind, DeviceKind::gpu);
  EXPECT_EQ(third.device.gpu, 2);
  EXPECT_EQ(third.device.package, 0);
  EXPECT_EQ(third.nvlink_Bps.size(), 16u);
  EXPECT_EQ(rank_device(dgx2.get(), 9, std::nullopt, nullptr).device.package, 1);
}

TEST(RankDevice, HonoursCudaVisibleDevices) {
  HwlocTopology dgx2 = load_hwloc_topology(topology_file("nvidiaDGX2.xml"));
  EXPECT_EQ(rank_device(dgx2.get(), 1, std::nullopt, "12,13").device.gpu, 13);
  // One GPU named for the rank: that is its GPU, whatever its local rank.
  EXPECT_EQ(rank_device(dgx2.get(), 5, std::nullopt, "9").device.gpu, 9);
}

TEST(RankDevice, MoreRanksThanGpusIsAnError) {
  HwlocTopology dgx2 = load_hwloc_topology(topology_file("nvidiaDGX2.xml"));
  EXPECT_THROW(rank_device(dgx2.get(), 2, DeviceKind::gpu, "0,1"), Error);
}

TEST(RankDevice, CpuNodeWithoutBindingGivesTheWholeNode) {
  HwlocTopology node = load_hwloc_topology(topology_file("192em64t-24n8c2t.xml"));
  DeviceRecord record = rank_device(node.get(), 0, std::nullopt, nullptr);
  EXPECT_EQ(record.device.kind, DeviceKind::node);
  EXPECT_EQ(record.device.cpuset, "0-383");
  EXPECT_EQ(record.device.package, -1);
  EXPECT_THROW(rank_device(node.get(), 0, DeviceKind::gpu, nullptr), Error);
}

TEST(RankDevice, ThisProcessHasABinding) {
  HwlocTopology here = load_hwloc_topology("local");
  EXPECT_FALSE(process_binding(here.get()).empty());
}

}  // namespace
}  // namespace spmd::launcher
