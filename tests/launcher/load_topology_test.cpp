// Synthetic strings, --nodes replication, and the errors a user can make.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "launcher/topology.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

using testing::topology_file;

std::string error_of(const TopologySource& source) {
  try {
    load_topology(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Synthetic, DefaultsToNumaDevicesAndAddsThePuLevel) {
  Topology t = load_topology({"synthetic:package:2 numa:2 core:8", 1, std::nullopt});
  EXPECT_EQ(t.num_devices(), 4);
  EXPECT_EQ(t.device(0).kind, DeviceKind::numa);
  EXPECT_EQ(t.device(1).cpuset, "8-15");
  ASSERT_EQ(t.levels().size(), 2u);
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::cross_package);
  EXPECT_EQ(t.levels()[1].link_kind, LinkKind::cross_numa);
}

TEST(Synthetic, CoresSplitEveryLevel) {
  Topology t = load_topology({"synthetic:package:2 numa:2 core:8", 1, DeviceKind::core});
  EXPECT_EQ(t.num_devices(), 32);
  ASSERT_EQ(t.levels().size(), 3u);
  EXPECT_EQ(t.levels()[2].name, "numa");
  EXPECT_EQ(t.levels()[2].groups, 4);
  EXPECT_EQ(t.levels()[2].fanout, 8);
}

TEST(Synthetic, AnExplicitPuLevelIsKept) {
  Topology t = load_topology({"synthetic:package:1 core:4 pu:2", 1, DeviceKind::core});
  EXPECT_EQ(t.num_devices(), 4);
  EXPECT_EQ(t.device(0).cpuset, "0-1");
}

TEST(Synthetic, BadStringIsAnErrorNamingIt) {
  EXPECT_NE(error_of({"synthetic:package:2 widget:3", 1, std::nullopt}).find("'package:2 widget:3'"),
            std::string::npos);
  EXPECT_NE(error_of({"synthetic:", 1, std::nullopt}).find("bad synthetic topology"), std::string::npos);
}

TEST(Replication, NodesSitBehindTheNetwork) {
  LinkModel network{5e-6, 25e9};
  Topology t = load_topology({topology_file("nvidiaDGX2.xml"), 4, std::nullopt, network});
  EXPECT_EQ(t.num_devices(), 64);
  EXPECT_EQ(t.num_nodes(), 4);
  ASSERT_EQ(t.levels().size(), 3u);
  EXPECT_EQ(t.levels()[0].name, "cluster");
  EXPECT_EQ(t.levels()[0].fanout, 4);
  EXPECT_EQ(t.levels()[0].link_kind, LinkKind::network);
  EXPECT_EQ(t.levels()[0].link, network);
  EXPECT_EQ(t.device(17).node, 1);
  EXPECT_EQ(t.device(17).gpu, 1);
}

TEST(Replication, DefaultNetworkIs100GbitAnd2Microseconds) {
  Topology t = load_topology({"synthetic:core:2", 2, DeviceKind::core});
  EXPECT_DOUBLE_EQ(t.levels()[0].link.bandwidth_Bps * 8, 100e9);
  EXPECT_DOUBLE_EQ(t.levels()[0].link.latency_s, 2e-6);
}

TEST(Replication, FewerThanOneNodeIsAnError) {
  EXPECT_NE(error_of({"synthetic:core:2", 0, std::nullopt}).find("at least one node, not 0"), std::string::npos);
}

TEST(LoadErrors, MissingFileNamesThePath) {
  EXPECT_NE(error_of({"/no/such/machine.xml", 1, std::nullopt}).find("'/no/such/machine.xml' does not exist"),
            std::string::npos);
}

TEST(LoadErrors, MalformedFileNamesThePath) {
  auto path = std::filesystem::temp_directory_path() / "spmd-malformed-topology.xml";
  std::ofstream(path) << "<topology><object type=\"Machine\">";  // cut short
  std::string message = error_of({path.string(), 1, std::nullopt});
  std::filesystem::remove(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("not a valid hwloc XML"), std::string::npos) << message;
}

TEST(LoadErrors, DeviceKindTheNodeLacksSaysWhatItHas) {
  std::string message = error_of({topology_file("192em64t-24n8c2t.xml"), 1, DeviceKind::gpu});
  EXPECT_NE(message.find("device kind gpu"), std::string::npos) << message;
  EXPECT_NE(message.find("192 cores, 0 GPUs"), std::string::npos) << message;
  EXPECT_NE(error_of({topology_file("16-2gr2gr2n2c+misc.xml"), 1, DeviceKind::package}).find("0 packages"),
            std::string::npos);
}

TEST(LoadErrors, UnknownDeviceKindNamesIt) {
  EXPECT_THROW(parse_device_kind("tpu"), Error);
  EXPECT_EQ(parse_device_kind("package"), DeviceKind::package);
}

}  // namespace
}  // namespace spmd::launcher
