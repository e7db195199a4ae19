// Assembly from hand-made device lists: grouping, folding, naming, and links of GPU pairs.
#include "launcher/assemble.h"

#include <gtest/gtest.h>

namespace spmd::launcher {
namespace {

DeviceRecord core(int node, int package, int numa, std::string cpuset, std::string cache = "L3 L#0",
                  std::vector<int> groups = {}) {
  return {{DeviceKind::core, node, package, numa, std::move(cpuset), -1, "", std::move(groups), 0, ""},
          {},
          false,
          0,
          std::move(cache)};
}

std::vector<std::string> level_names(const Topology& t) {
  std::vector<std::string> names;
  for (const Level& level : t.levels()) names.push_back(level.name);
  return names;
}

DeviceRecord gpu(int node, int package, int index, std::vector<double> nvlink) {
  return {{DeviceKind::gpu, node, package, package, "0", index, "0000:0" + std::to_string(index) + ":00.0", {}, 0, ""},
          std::move(nvlink),
          false,
          0,
          ""};
}

const LinkModel kNetwork{2e-6, 12.5e9};

TEST(Assemble, FoldsLevelsWithOneChildAndKeepsTheNodeName) {
  // One node, one package, one NUMA node, two cores: only the node level is left.
  Topology t = assemble_topology({core(0, 0, 0, "0"), core(0, 0, 0, "1")}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 1u);
  EXPECT_EQ(t.levels()[0].name, "node");
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::shared_cache);
}

TEST(Assemble, CoresWithoutACommonCacheShareMemory) {
  Topology t = assemble_topology({core(0, 0, 0, "0", "L2 L#0"), core(0, 0, 0, "1", "L2 L#1")}, {"a"}, kNetwork);
  ASSERT_EQ(t.levels().size(), 1u);
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::shared_memory);
  Topology no_cache = assemble_topology({core(0, 0, 0, "0", ""), core(0, 0, 0, "1", "")}, {"a"}, kNetwork);
  EXPECT_EQ(no_cache.levels()[0].link_kind, LinkKind::shared_memory);
}

TEST(Assemble, GroupsGoAboveThePackagesTheyHoldAndBelowThoseHoldingThem) {
  // Groups of two packages: a tier above them.
  Topology tiers = assemble_topology({core(0, 0, 0, "0", "", {0}), core(0, 1, 1, "1", "", {0}),
                                      core(0, 2, 2, "2", "", {1}), core(0, 3, 3, "3", "", {1})},
                                     {"a"}, kNetwork);
  EXPECT_EQ(level_names(tiers), (std::vector<std::string>{"node", "group0"}));
  EXPECT_EQ(tiers.levels()[0].link_kind, LinkKind::cross_group);
  EXPECT_EQ(tiers.levels()[1].link_kind, LinkKind::cross_package);
  // Two groups (dies) per package, without NUMA nodes: crossing them stays in the package.
  Topology dies = assemble_topology({core(0, 0, -1, "0", "", {0}), core(0, 0, -1, "1", "", {1}),
                                     core(0, 1, -1, "2", "", {2}), core(0, 1, -1, "3", "", {3})},
                                    {"a"}, kNetwork);
  EXPECT_EQ(level_names(dies), (std::vector<std::string>{"node", "package"}));
  EXPECT_EQ(dies.levels()[1].link_kind, LinkKind::cross_numa);
}

TEST(Assemble, ALevelIsNeverFasterThanTheOneBelow) {
  // NUMA nodes over two dies each: crossing NUMA nodes crosses dies, at their figures.
  Topology t = assemble_topology({core(0, 0, 0, "0"), core(0, 1, 0, "1"), core(0, 2, 1, "2"), core(0, 3, 1, "3")},
                                 {"a"}, kNetwork);
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "numa"}));
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::cross_numa);
  EXPECT_EQ(t.levels()[0].link, default_link(LinkKind::cross_package));
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
