// Every file of tests/data/topologies loads, with the device counts hwloc's own tools report
// (`hwloc-calc --input FILE -N core|numa|package all`, GPUs from `lstopo --input FILE`).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/error.h"
#include "launcher/topology.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

using testing::topology_file;

struct FileCounts {
  std::string file;
  int cores, numa, packages, gpus;
};

// NUMA devices are NUMA nodes with cores, one per distinct cpuset: the Knights Landing file
// has 8 NUMA nodes (hwloc-calc says 8) as 4 DRAM + MCDRAM pairs, so 4 devices. The
// restricted-cpuset file keeps 10 of 16 cores, the offline file 6 cores. GPUs are compute
// devices from NVIDIA or AMD (is_compute_gpu): the 32-core file has 3 Tesla M2075 and a
// Radeon HD 7970 that hwloc's OpenCL backend reports (its Matrox VGA is neither vendor's);
// the 96-core file has none: its only display device is an ATI ES1000 server display chip.
const std::vector<FileCounts> kFiles = {
    {"16-2gr2gr2n2c+misc.xml", 16, 8, 0, 0},
    {"16amd64-8n2c-cpusets.xml", 10, 3, 6, 0},
    {"16em64t-4s2c2t-offlines.xml", 6, 1, 4, 0},
    {"192em64t-24n8c2t.xml", 192, 24, 24, 0},
    {"28intel64-2p2g7c-CoDgroups.v1tov2.xml", 28, 4, 2, 0},
    {"2intel64-1n2c-numaroot.v1tov2.xml", 2, 1, 2, 0},
    {"32em64t-2n8c2t-pci-normalio.xml", 16, 2, 2, 4},
    {"64intel64-fakeKNL-SNC4-hybrid.xml", 16, 4, 1, 0},
    {"96em64t-4n4d3ca2co-pci.xml", 96, 4, 16, 0},
    {"nvidiaDGX2.xml", 4, 2, 2, 16},
    {"power8gpudistances.xml", 8, 2, 2, 4},
};

int count(const std::string& file, DeviceKind kind) {
  return load_topology({topology_file(file), 1, kind}).num_devices();
}

std::vector<std::string> level_names(const Topology& t) {
  std::vector<std::string> names;
  for (const Level& level : t.levels()) names.push_back(level.name);
  return names;
}

std::vector<LinkKind> link_kinds(const Topology& t) {
  std::vector<LinkKind> kinds;
  for (const Level& level : t.levels()) kinds.push_back(level.link_kind);
  return kinds;
}

TEST(TopologyFiles, EveryFileInTheFolderIsCovered) {
  std::set<std::string> covered;
  for (const FileCounts& f : kFiles) covered.insert(f.file);
  for (const auto& entry : std::filesystem::directory_iterator(SPMD_TOPOLOGIES_DIR)) {
    if (entry.path().extension() == ".xml") {
      EXPECT_TRUE(covered.contains(entry.path().filename().string())) << entry.path();
    }
  }
}

TEST(TopologyFiles, DeviceCountsMatchHwlocTools) {
  for (const FileCounts& f : kFiles) {
    SCOPED_TRACE(f.file);
    EXPECT_EQ(count(f.file, DeviceKind::core), f.cores);
    EXPECT_EQ(count(f.file, DeviceKind::numa), f.numa);
    if (f.packages > 0) {
      EXPECT_EQ(count(f.file, DeviceKind::package), f.packages);
    }
    if (f.gpus > 0) {
      EXPECT_EQ(count(f.file, DeviceKind::gpu), f.gpus);
    }
  }
}

TEST(TopologyFiles, DefaultDeviceIsGpuWhereThereAreGpusElseNuma) {
  for (const FileCounts& f : kFiles) {
    Topology t = load_topology({topology_file(f.file), 1, std::nullopt});
    EXPECT_EQ(t.device(0).kind, f.gpus > 0 ? DeviceKind::gpu : DeviceKind::numa) << f.file;
    EXPECT_EQ(t.num_devices(), f.gpus > 0 ? f.gpus : f.numa) << f.file;
  }
}

TEST(TopologyFiles, Dgx2Has16GpusOnNvswitchesAcrossAndWithinPackages) {
  Topology t = load_topology({topology_file("nvidiaDGX2.xml"), 1, std::nullopt});
  ASSERT_EQ(t.num_devices(), 16);
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "package"}));
  EXPECT_EQ(link_kinds(t), (std::vector{LinkKind::nvswitch, LinkKind::nvswitch}));
  EXPECT_EQ(t.levels()[0].fanout, 2);
  EXPECT_EQ(t.levels()[1].fanout, 8);
  // 6 NVSwitch links of 25 GB/s each per V100 (hwloc's NVLinkBandwidth, in MB/s).
  EXPECT_DOUBLE_EQ(t.levels()[0].link.bandwidth_Bps, 150e9);
  EXPECT_EQ(t.device(3).pci_bus_id, "0000:3b:00.0");
  EXPECT_EQ(t.device(3).model, "Tesla V100-SXM3-32GB-H");  // hwloc's GPUModel
  EXPECT_EQ(t.device(8).package, 1);
}

TEST(TopologyFiles, Power8GpusHaveNvlinkInPackageAndPcieAcross) {
  Topology t = load_topology({topology_file("power8gpudistances.xml"), 1, DeviceKind::gpu});
  ASSERT_EQ(t.num_devices(), 4);
  EXPECT_EQ(link_kinds(t), (std::vector{LinkKind::pcie, LinkKind::nvlink}));
  EXPECT_DOUBLE_EQ(t.levels()[1].link.bandwidth_Bps, 40e9);
  EXPECT_LT(t.levels()[0].link.bandwidth_Bps, t.levels()[1].link.bandwidth_Bps);
}

TEST(TopologyFiles, CoresOfTwoPackagesFoldTheSingleNumaLevel) {
  Topology t = load_topology({topology_file("32em64t-2n8c2t-pci-normalio.xml"), 1, DeviceKind::core});
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "package"}));
  EXPECT_EQ(link_kinds(t), (std::vector{LinkKind::cross_package, LinkKind::shared_cache}));
}

TEST(TopologyFiles, ClusterOnDieGroupsGiveNumaLevelsInsidePackages) {
  // Each Cluster-on-Die Group holds one NUMA node, so the two are one level. The file
  // describes no caches: the cores of a NUMA node share its memory, not a cache.
  Topology t = load_topology({topology_file("28intel64-2p2g7c-CoDgroups.v1tov2.xml"), 1, DeviceKind::core});
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "package", "numa"}));
  EXPECT_EQ(link_kinds(t),
            (std::vector{LinkKind::cross_package, LinkKind::cross_numa, LinkKind::shared_memory}));
  EXPECT_EQ(t.levels()[2].fanout, 7);
}

TEST(TopologyFiles, NumaAbovePackagesIsNestedThatWay) {
  // 4 NUMA nodes, each over 4 packages (dies) of 6 cores.
  Topology t = load_topology({topology_file("96em64t-4n4d3ca2co-pci.xml"), 1, DeviceKind::core});
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "numa", "package"}));
  EXPECT_EQ(link_kinds(t),
            (std::vector{LinkKind::cross_numa, LinkKind::cross_package, LinkKind::shared_cache}));
  EXPECT_EQ(t.levels()[1].fanout, 4);
  EXPECT_EQ(t.levels()[2].fanout, 6);
  // Leaving a NUMA node here leaves a die too: no faster than crossing dies.
  EXPECT_LE(t.levels()[1].link.bandwidth_Bps, default_link(LinkKind::cross_package).bandwidth_Bps);
  EXPECT_GE(t.levels()[1].link.latency_s, default_link(LinkKind::cross_package).latency_s);
}

TEST(TopologyFiles, RestrictedCpusetGivesOnlyAllowedCores) {
  Topology t = load_topology({topology_file("16amd64-8n2c-cpusets.xml"), 1, DeviceKind::core});
  std::set<std::string> cpusets;
  for (const Device& d : t.devices()) cpusets.insert(d.cpuset);
  EXPECT_EQ(cpusets, (std::set<std::string>{"0", "1", "2", "3", "5", "6", "12", "13", "14", "15"}));
  EXPECT_FALSE(t.levels()[1].uniform);  // packages of 1 and 2 allowed cores
}

TEST(TopologyFiles, OfflinePusAreLeftOut) {
  Topology t = load_topology({topology_file("16em64t-4s2c2t-offlines.xml"), 1, DeviceKind::core});
  EXPECT_EQ(t.device(1).cpuset, "4,12");  // the one core with two online PUs
  EXPECT_EQ(t.device(5).cpuset, "15");
}

TEST(TopologyFiles, NestedGroupsGiveALevelPerTier) {
  // Group0 (2) > Group1 (2 each) > Group2 (2 each, one NUMA node each) > 2 cores: the
  // innermost Group is its NUMA node, the two others are tiers of their own.
  Topology t = load_topology({topology_file("16-2gr2gr2n2c+misc.xml"), 1, DeviceKind::core});
  EXPECT_EQ(level_names(t), (std::vector<std::string>{"node", "group0", "group1", "numa"}));
  EXPECT_EQ(link_kinds(t), (std::vector{LinkKind::cross_group, LinkKind::cross_group, LinkKind::cross_numa,
                                        LinkKind::shared_memory}));
  for (const Level& level : t.levels()) EXPECT_EQ(level.fanout, 2) << level.name;
  EXPECT_EQ(t.device(0).package, -1);
  EXPECT_EQ(t.device(15).groups, (std::vector<int>{1, 3, 7}));
}

TEST(TopologyFiles, NumaLatencyTiersBecomeGroupLevels) {
  // 24 packages, one NUMA node each; the latency matrix pairs them (50 within a pair, 65
  // or 79 across), and hwloc groups them by it: 12 Groups of 2 packages of 8 cores.
  Topology cores = load_topology({topology_file("192em64t-24n8c2t.xml"), 1, DeviceKind::core});
  EXPECT_EQ(level_names(cores), (std::vector<std::string>{"node", "group0", "package"}));
  EXPECT_EQ(link_kinds(cores),
            (std::vector{LinkKind::cross_group, LinkKind::cross_package, LinkKind::shared_cache}));
  EXPECT_EQ(cores.levels()[0].fanout, 12);
  EXPECT_EQ(cores.levels()[1].groups, 12);
  EXPECT_EQ(cores.levels()[1].fanout, 2);
  EXPECT_EQ(cores.levels()[2].fanout, 8);
  EXPECT_GT(cores.link_between(0, 8).bandwidth_Bps, cores.link_between(0, 16).bandwidth_Bps);
  Topology numa = load_topology({topology_file("192em64t-24n8c2t.xml"), 1, DeviceKind::numa});
  EXPECT_EQ(level_names(numa), (std::vector<std::string>{"node", "group0"}));
}

// Every device kind that the file has, on two nodes (so that the network level is there).
std::vector<Topology> every_topology_of(const std::string& file) {
  std::vector<Topology> topologies;
  for (DeviceKind kind : {DeviceKind::gpu, DeviceKind::numa, DeviceKind::package, DeviceKind::core, DeviceKind::node}) {
    try {
      topologies.push_back(load_topology({topology_file(file), 2, kind}));
    } catch (const Error&) {
      // the file has no device of this kind
    }
  }
  return topologies;
}

TEST(TopologyFiles, LinkFiguresNeverImproveGoingUp) {
  for (const FileCounts& f : kFiles) {
    for (const Topology& t : every_topology_of(f.file)) {
      SCOPED_TRACE(f.file + " " + to_string(t.device(0).kind));
      for (size_t l = 1; l < t.levels().size(); ++l) {
        const LinkModel& above = t.levels()[l - 1].link;
        const LinkModel& below = t.levels()[l].link;
        EXPECT_LE(above.bandwidth_Bps, below.bandwidth_Bps) << t.levels()[l - 1].name;
        EXPECT_GE(above.latency_s, below.latency_s) << t.levels()[l - 1].name;
      }
    }
  }
}

TEST(TopologyFiles, SharedCacheOnlyWhereACacheHoldsTheDevices) {
  // 96 cores: the 6 cores of a die share its L3. Knights Landing: 4 cores of a quadrant,
  // an L2 per 2 (the MCDRAM cache is a memory-side cache, not a CPU one). Nested groups:
  // no caches at all.
  auto lowest = [](const std::string& file) {
    return load_topology({topology_file(file), 1, DeviceKind::core}).levels().back().link_kind;
  };
  EXPECT_EQ(lowest("96em64t-4n4d3ca2co-pci.xml"), LinkKind::shared_cache);
  EXPECT_EQ(lowest("64intel64-fakeKNL-SNC4-hybrid.xml"), LinkKind::shared_memory);
  EXPECT_EQ(lowest("16-2gr2gr2n2c+misc.xml"), LinkKind::shared_memory);
}

TEST(TopologyFiles, McdramIsMemoryOfTheQuadrantThatReachesIt) {
  // Each SNC-4 quadrant has 1 GiB of DRAM and 2 GiB of MCDRAM (hwloc: NUMA nodes of one
  // cpuset): one NUMA device of 3 GiB, shared by its 4 cores.
  Topology numa = load_topology({topology_file("64intel64-fakeKNL-SNC4-hybrid.xml"), 1, DeviceKind::numa});
  ASSERT_EQ(numa.num_devices(), 4);
  for (const Device& d : numa.devices()) EXPECT_EQ(d.memory_bytes, std::int64_t{3} << 30) << d.cpuset;
  Topology cores = load_topology({topology_file("64intel64-fakeKNL-SNC4-hybrid.xml"), 1, DeviceKind::core});
  EXPECT_EQ(cores.device(0).memory_bytes, (std::int64_t{3} << 30) / 4);
  Topology node = load_topology({topology_file("64intel64-fakeKNL-SNC4-hybrid.xml"), 1, DeviceKind::node});
  EXPECT_EQ(node.device(0).memory_bytes, std::int64_t{12} << 30);
}

TEST(TopologyFiles, MemoryIsCountedOnceAcrossDevices) {
  for (const FileCounts& f : kFiles) {
    Topology node = load_topology({topology_file(f.file), 1, DeviceKind::node});
    for (DeviceKind kind : {DeviceKind::numa, DeviceKind::core}) {
      Topology t = load_topology({topology_file(f.file), 1, kind});
      std::int64_t total = 0;
      for (const Device& d : t.devices()) total += d.memory_bytes;
      EXPECT_LE(total, node.device(0).memory_bytes) << f.file << " " << to_string(kind);
      EXPECT_GE(total, node.device(0).memory_bytes * 99 / 100) << f.file << " " << to_string(kind);
    }
  }
}

}  // namespace
}  // namespace spmd::launcher
