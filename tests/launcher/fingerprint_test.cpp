// The fingerprint follows the shape of the hardware, not the numbering of ranks.
#include <gtest/gtest.h>

#include <algorithm>

#include "launcher/assemble.h"
#include "launcher/topology.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

DeviceRecord core(int node, int package, std::string cpuset) {
  return {{DeviceKind::core, node, package, package, std::move(cpuset), -1, "", {}, 0, ""}, {}, false, 0, "L2 L#0"};
}

std::vector<DeviceRecord> two_nodes() {
  std::vector<DeviceRecord> records;
  for (int node = 0; node < 2; ++node)
    for (int package = 0; package < 2; ++package)
      for (int c = 0; c < 2; ++c) records.push_back(core(node, package, std::to_string(2 * package + c)));
  return records;
}

TEST(Fingerprint, IsSixteenHexDigitsAndRepeatable) {
  TopologySource source{testing::topology_file("nvidiaDGX2.xml"), 2, std::nullopt};
  std::string first = fingerprint(load_topology(source));
  EXPECT_EQ(first.size(), 16u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(fingerprint(load_topology(source)), first);
}

TEST(Fingerprint, StaysWhenRanksAreRenumbered) {
  std::vector<DeviceRecord> records = two_nodes();
  Topology original = assemble_topology(records, {"a", "b"}, default_link(LinkKind::network));
  std::reverse(records.begin(), records.end());
  for (DeviceRecord& r : records) r.device.node = 1 - r.device.node;  // node order follows ranks
  Topology renumbered = assemble_topology(records, {"c", "d"}, default_link(LinkKind::network));
  EXPECT_NE(content_hash(original), content_hash(renumbered));
  EXPECT_EQ(fingerprint(original), fingerprint(renumbered));
}

TEST(Fingerprint, ChangesWithNodesDevicesAndLinks) {
  LinkModel network = default_link(LinkKind::network);
  std::vector<DeviceRecord> records = two_nodes();
  std::string base = fingerprint(assemble_topology(records, {"a", "b"}, network));
  std::vector<DeviceRecord> fewer(records.begin(), records.end() - 4);
  EXPECT_NE(fingerprint(assemble_topology(fewer, {"a"}, network)), base);
  std::vector<DeviceRecord> rebound = records;
  rebound[0].device.cpuset = "0-1";
  EXPECT_NE(fingerprint(assemble_topology(rebound, {"a", "b"}, network)), base);
  EXPECT_NE(fingerprint(assemble_topology(records, {"a", "b"}, {2e-6, 25e9})), base);
}

// A VM onlines memory after boot: the same machine reports more of it a few minutes later,
// and a profile taken before must still match. The ranks' check that they built the same
// tree still sees it.
TEST(Fingerprint, StaysWhenOnlyTheMemoryReportedChanges) {
  LinkModel network = default_link(LinkKind::network);
  std::vector<DeviceRecord> records = two_nodes();
  const Topology base = assemble_topology(records, {"a", "b"}, network);
  for (DeviceRecord& r : records) r.device.memory_bytes += 128 << 20;
  const Topology grown = assemble_topology(records, {"a", "b"}, network);
  EXPECT_EQ(fingerprint(grown), fingerprint(base));
  EXPECT_NE(content_hash(grown), content_hash(base));
}

}  // namespace
}  // namespace spmd::launcher
