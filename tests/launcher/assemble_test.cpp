// Assembly from hand-made device lists: grouping, folding, naming, and links of GPU pairs.
#include "launcher/assemble.h"

#include <gtest/gtest.h>

namespace spmd::launcher {
namespace {

DeviceRecord core(int node, int package, int numa, std::string cpuset) {
  return {{DeviceKind::core, node, package, numa, std::move(cpuset), -1, ""}, {}, false, 0};
}

DeviceRecord gpu(int node, int package, int index, std::vector<double> nvlink) {
  return {{DeviceKind::gpu, node, package, package, "0", index, "0000:0" + std::to_string(index) + ":00.0"},
          std::move(nvlink),
          false,
          0};
}

const LinkModel kNetwork{2e-6, 12.5e9};

TEST(Assemble, FoldsLevelsWithOneChildAndKeepsTheNodeName) {
  // One node, one package, one NUMA node, two cores: only the node level is left.
  Topology t = assemble_topology({core(0, 0, 0, "0"), core(0, 0, 0, "1")}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 1u);
  EXPECT_EQ(t.levels()[0].name, "node");
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::shared_cache);
}

TEST(Assemble, DeviceIdsFollowTheInputOrder) {
  // Ranks of two nodes interleaved, as a round-robin mapping gives them.
  Topology t = assemble_topology(
      {core(0, 0, 0, "0"), core(1, 0, 0, "0"), core(0, 0, 0, "1"), core(1, 0, 0, "1")}, {"a", "b"}, kNetwork);
  EXPECT_EQ(t.device(1).node, 1);
  EXPECT_EQ(t.common_level(0, 2), 1);
  EXPECT_EQ(t.common_level(0, 1), 0);
  EXPECT_EQ(t.levels()[0].name, "cluster");
}

TEST(Assemble, UnevenGroupsAreMarkedNotUniform) {
  Topology t =
      assemble_topology({core(0, 0, 0, "0"), core(0, 0, 0, "1"), core(0, 1, 1, "2")}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 2u);
  EXPECT_EQ(t.levels()[1].fanout, 2);
  EXPECT_FALSE(t.levels()[1].uniform);
  EXPECT_TRUE(t.levels()[0].uniform);
}

TEST(Assemble, GpuPairsWithoutNvlinkGoOverPcie) {
  // GPUs 0 and 1 share an NVLink (package 0); GPU 2 (package 1) has none.
  std::vector<double> row0{0, 50e9, 0}, row1{50e9, 0, 0}, row2{0, 0, 0};
  Topology t =
      assemble_topology({gpu(0, 0, 0, row0), gpu(0, 0, 1, row1), gpu(0, 1, 2, row2)}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 2u);
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::pcie);
  EXPECT_EQ(t.levels()[1].link_kind, LinkKind::nvlink);
  EXPECT_DOUBLE_EQ(t.levels()[1].link.bandwidth_Bps, 50e9);
}

TEST(Assemble, ALevelTakesItsSlowestPair) {
  std::vector<double> row0{0, 50e9, 25e9}, row1{50e9, 0, 50e9}, row2{25e9, 50e9, 0};
  Topology t =
      assemble_topology({gpu(0, 0, 0, row0), gpu(0, 0, 1, row1), gpu(0, 0, 2, row2)}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 1u);
  EXPECT_DOUBLE_EQ(t.levels()[0].link.bandwidth_Bps, 25e9);
}

}  // namespace
}  // namespace spmd::launcher
