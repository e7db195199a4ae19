// Queries later modules cost transfers with: common level, link between two devices, the
// levels a group spans.
#include "launcher/topology.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_topologies.h"

namespace spmd::launcher {
namespace {

// 2 nodes x 2 packages x 8 GPUs; levels cluster (0), node (1), package (2).
Topology two_dgx2() { return load_topology({testing::topology_file("nvidiaDGX2.xml"), 2, std::nullopt}); }

TEST(CommonLevel, IsTheDeepestLevelHoldingBoth) {
  Topology t = two_dgx2();
  EXPECT_EQ(t.common_level(0, 1), 2);   // same package
  EXPECT_EQ(t.common_level(0, 8), 1);   // same node, other package
  EXPECT_EQ(t.common_level(0, 16), 0);  // other node
  EXPECT_EQ(t.common_level(31, 16), 1);
  EXPECT_EQ(t.common_level(5, 5), 3);  // the device itself
}

TEST(LinkBetween, IsTheLinkOfTheCommonLevel) {
  Topology t = two_dgx2();
  EXPECT_EQ(t.link_between(0, 16).bandwidth_Bps, 100e9 / 8);
  EXPECT_EQ(t.link_between(0, 8), t.levels()[1].link);
  EXPECT_TRUE(std::isinf(t.link_between(3, 3).bandwidth_Bps));
  EXPECT_NEAR(t.link_between(0, 16).transfer_seconds(12.5e9), 1.0 + 2e-6, 1e-12);
}

TEST(LevelsSpanned, ListsTheLevelsAGroupCrosses) {
  Topology t = two_dgx2();
  std::vector<int> one_package{0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int> one_node{0, 8};
  std::vector<int> across_nodes{0, 16};
  std::vector<int> everything(32);
  for (int d = 0; d < 32; ++d) everything[d] = d;
  EXPECT_EQ(t.levels_spanned(one_package), (std::vector<int>{2}));
  EXPECT_EQ(t.levels_spanned(one_node), (std::vector<int>{1}));
  EXPECT_EQ(t.levels_spanned(across_nodes), (std::vector<int>{0}));
  EXPECT_EQ(t.levels_spanned(everything), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(t.levels_spanned(std::vector<int>{4}), (std::vector<int>{}));
}

TEST(GroupOf, NumbersGroupsWithinEachLevel) {
  Topology t = two_dgx2();
  EXPECT_EQ(t.levels()[2].groups, 4);
  EXPECT_EQ(t.group_of(2, 0), t.group_of(2, 7));
  EXPECT_NE(t.group_of(2, 7), t.group_of(2, 8));
  EXPECT_EQ(t.group_of(1, 31), 1);
  EXPECT_EQ(t.group_of(0, 31), 0);
}

TEST(SingleDevice, HasNoLevels) {
  Topology t = load_topology({"synthetic:core:1", 1, DeviceKind::core});
  EXPECT_EQ(t.num_devices(), 1);
  EXPECT_TRUE(t.levels().empty());
  EXPECT_EQ(t.common_level(0, 0), 0);
}

}  // namespace
}  // namespace spmd::launcher

namespace spmd::launcher {
namespace {

TEST(ProcessingUnits, CountsTheCpusetInHwlocListSyntax) {
  Device d;
  d.cpuset = "0-3,8";
  EXPECT_EQ(processing_units(d), 5);
  d.cpuset = "";
  EXPECT_EQ(processing_units(d), 0);
}

}  // namespace
}  // namespace spmd::launcher
