// What `spmd topo` prints: the compact tree and the JSON form.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "launcher/topology.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

Topology dgx2_cluster(int nodes) {
  return load_topology({testing::topology_file("nvidiaDGX2.xml"), nodes, std::nullopt});
}

TEST(TextOutput, ShowsLevelsWithUnitsAndTheFingerprint) {
  Topology t = dgx2_cluster(2);
  std::string text = to_text(t);
  EXPECT_NE(text.find(fingerprint(t)), std::string::npos);
  for (const char* shown : {"network", "100.0 Gbit/s", "12.5 GB/s", "2.00 us", "nvswitch", "1200.0 Gbit/s",
                            "150.0 GB/s", "1.00 us", "device 1: GPU 1 (PCI 0000:36:00.0, cpuset 0-1)",
                            "+ 1 more like it: Node 1 \"node1\" (16 devices)"})
    EXPECT_NE(text.find(shown), std::string::npos) << shown << "\n" << text;
}

TEST(TextOutput, IdenticalNodesArePrintedOnce) {
  std::string text = to_text(dgx2_cluster(1024));
  EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 40);
  EXPECT_NE(text.find("+ 1023 more like it: Node 1 \"node1\" .. Node 1023 \"node1023\" (16368 devices)"),
            std::string::npos)
      << text;
}

TEST(JsonOutput, HasFingerprintDevicesAndLevels) {
  Topology t = dgx2_cluster(2);
  nlohmann::json j = to_json(t);
  EXPECT_EQ(j.at("fingerprint"), fingerprint(t));
  ASSERT_EQ(j.at("devices").size(), 32u);
  const nlohmann::json& gpu = j.at("devices").at(9);
  EXPECT_EQ(gpu.at("kind"), "gpu");
  EXPECT_EQ(gpu.at("node"), 0);
  EXPECT_EQ(gpu.at("package"), 1);
  EXPECT_EQ(gpu.at("numa"), 1);
  EXPECT_EQ(gpu.at("gpu"), 9);
  ASSERT_EQ(j.at("levels").size(), 3u);
  const nlohmann::json& top = j.at("levels").at(0);
  EXPECT_EQ(top.at("name"), "cluster");
  EXPECT_EQ(top.at("fanout"), 2);
  EXPECT_DOUBLE_EQ(top.at("bandwidth_gbps").get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(top.at("latency_us").get<double>(), 2.0);
}

TEST(JsonOutput, CpuDevicesCarryTheirCpuset) {
  nlohmann::json j = to_json(load_topology({"synthetic:package:2 core:2", 1, DeviceKind::core}));
  EXPECT_EQ(j.at("devices").at(3).at("cpuset"), "3");
  EXPECT_FALSE(j.at("devices").at(3).contains("gpu"));
}

TEST(JsonOutput, NumbersAreTheDecimalsTheyStandFor) {
  // 0.1e-6 s * 1e6 is 0.09999999999999999 in doubles; the JSON says 0.1.
  std::string cores = to_json(load_topology({"synthetic:package:1 l2:1 core:2", 1, DeviceKind::core})).dump();
  EXPECT_NE(cores.find("\"latency_us\":0.1,"), std::string::npos) << cores;
  for (const char* file : {"96em64t-4n4d3ca2co-pci.xml", "power8gpudistances.xml", "nvidiaDGX2.xml"}) {
    std::string text = to_json(load_topology({testing::topology_file(file), 2, std::nullopt})).dump();
    EXPECT_EQ(text.find("99999"), std::string::npos) << text;
    EXPECT_EQ(text.find("00000001"), std::string::npos) << text;
  }
}

TEST(Output, DevicesShowTheirMemory) {
  Topology knl = load_topology({testing::topology_file("64intel64-fakeKNL-SNC4-hybrid.xml"), 1, DeviceKind::numa});
  EXPECT_NE(to_text(knl).find("device 0: numa (cpuset 0-3,16-19,32-35,48-51, 3.0 GiB)"), std::string::npos) << to_text(knl);
  EXPECT_EQ(to_json(knl).at("devices").at(0).at("memory_bytes"), std::int64_t{3} << 30);
  Topology power8 = load_topology({testing::topology_file("power8gpudistances.xml"), 1, DeviceKind::gpu});
  EXPECT_NE(to_text(power8).find("cpuset 0-1,8-9,16-17,24-25, 15.9 GiB)"), std::string::npos) << to_text(power8);
}

TEST(Output, GroupLevelsAreNamedAsLstopoNamesThem) {
  Topology t = load_topology({testing::topology_file("16-2gr2gr2n2c+misc.xml"), 1, DeviceKind::core});
  std::string text = to_text(t);
  EXPECT_NE(text.find("  Group0 L#0\n    Group1 L#0\n      NUMANode L#0"), std::string::npos) << text;
  EXPECT_EQ(to_json(t).at("devices").at(15).at("groups"), (std::vector<int>{1, 3, 7}));
}

}  // namespace
}  // namespace spmd::launcher
