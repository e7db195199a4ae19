// The live job: each rank describes its device, the ranks exchange the descriptions, and
// every rank assembles the same tree from them. Every exchange is a nonblocking collective
// completed within the deadline (launcher/mpi_wait.h): a rank that never comes fails the
// others instead of hanging them.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "launcher/assemble.h"
#include "launcher/hwloc_handle.h"
#include "launcher/mpi_wait.h"
#include "launcher/rank_device.h"
#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

// What one rank tells the others: its host, the node it shares memory with (named by the
// lowest rank there), its device, and the reason it failed, if it did.
struct RankDescription {
  std::string host;
  int node_leader = 0;
  std::string error;
  DeviceRecord record;
};

nlohmann::json to_json(const RankDescription& r) {
  const Device& d = r.record.device;
  return {{"host", r.host},
          {"leader", r.node_leader},
          {"error", r.error},
          {"kind", static_cast<int>(d.kind)},
          {"package", d.package},
          {"numa", d.numa},
          {"cpuset", d.cpuset},
          {"gpu", d.gpu},
          {"pci", d.pci_bus_id},
          {"nvlink", r.record.nvlink_Bps},
          {"switch", r.record.nvlink_through_switch},
          {"pcie", r.record.pcie_Bps},
          {"groups", d.groups},
          {"memory", d.memory_bytes},
          {"model", d.model},
          {"cache", r.record.cache}};
}

RankDescription from_json(const nlohmann::json& j) {
  RankDescription r{j.at("host"), j.at("leader"), j.at("error"), {}};
  r.record.device = {static_cast<DeviceKind>(j.at("kind").get<int>()),
                     0,
                     j.at("package"),
                     j.at("numa"),
                     j.at("cpuset"),
                     j.at("gpu"),
                     j.at("pci"),
                     j.at("groups").get<std::vector<int>>(),
                     j.at("memory").get<std::int64_t>(),
                     j.at("model").get<std::string>()};
  r.record.nvlink_Bps = j.at("nvlink").get<std::vector<double>>();
  r.record.nvlink_through_switch = j.at("switch");
  r.record.pcie_Bps = j.at("pcie");
  r.record.cache = j.at("cache");
  return r;
}

std::string host_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  MPI_Get_processor_name(name, &length);
  return std::string(name, length);
}

// The lowest rank of `comm` on this node (ranks that share memory), and this rank's
// index among them.
std::pair<int, int> node_leader_and_local_rank(MPI_Comm comm, Seconds timeout) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm local = split_by_node(comm, timeout, "topology discovery: the ranks meeting to split by node");
  if (local == MPI_COMM_NULL) throw JobFailure("topology discovery: MPI_Comm_split_type refused to split the ranks by node");
  int local_rank = 0, leader = 0;
  MPI_Comm_rank(local, &local_rank);
  MPI_Request request = MPI_REQUEST_NULL;
  complete_collective(MPI_Iallreduce(&rank, &leader, 1, MPI_INT, MPI_MIN, local, &request), request, local,
                      timeout, "topology discovery: all-reduce of each node's lowest rank");
  MPI_Comm_free(&local);
  return {leader, local_rank};
}

RankDescription describe_this_rank(MPI_Comm comm, std::optional<DeviceKind> kind, Seconds timeout) {
  auto [leader, local_rank] = node_leader_and_local_rank(comm, timeout);
  RankDescription me{host_name(), leader, "", {}};
  try {
    HwlocTopology node = load_hwloc_topology("local");
    me.record = rank_device(node.get(), local_rank, kind, std::getenv("CUDA_VISIBLE_DEVICES"));
  } catch (const Error& e) {
    me.error = e.what();  // told to every rank below, so that none waits for this one
  }
  return me;
}

std::vector<RankDescription> all_gather(MPI_Comm comm, const RankDescription& mine, Seconds timeout) {
  std::vector<std::uint8_t> bytes = nlohmann::json::to_msgpack(to_json(mine));
  int size = 0, my_length = static_cast<int>(bytes.size());
  MPI_Comm_size(comm, &size);
  std::vector<int> lengths(size), offsets(size);
  MPI_Request request = MPI_REQUEST_NULL;
  complete_collective(MPI_Iallgather(&my_length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm, &request),
                      request, comm, timeout, "topology discovery: all-gather of the description lengths");
  for (int r = 1; r < size; ++r) offsets[r] = offsets[r - 1] + lengths[r - 1];
  std::vector<std::uint8_t> all(offsets.back() + lengths.back());
  complete_collective(MPI_Iallgatherv(bytes.data(), my_length, MPI_BYTE, all.data(), lengths.data(),
                                      offsets.data(), MPI_BYTE, comm, &request),
                      request, comm, timeout, "topology discovery: all-gather of the ranks' devices");
  std::vector<RankDescription> ranks;
  for (int r = 0; r < size; ++r)
    ranks.push_back(from_json(
        nlohmann::json::from_msgpack(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r])));
  return ranks;
}

void throw_first_failure(const std::vector<RankDescription>& ranks) {
  for (size_t r = 0; r < ranks.size(); ++r)
    if (!ranks[r].error.empty())
      throw Error("topology discovery failed on rank " + std::to_string(r) + " (" + ranks[r].host +
                  "): " + ranks[r].error);
}

Topology assemble_job(const std::vector<RankDescription>& ranks, LinkModel network) {
  std::map<int, int> node_of_leader;  // nodes numbered in the order of their lowest rank
  for (const RankDescription& r : ranks) node_of_leader.emplace(r.node_leader, 0);
  std::vector<std::string> node_names;
  for (auto& [leader, node] : node_of_leader) {
    node = static_cast<int>(node_names.size());
    node_names.push_back(ranks[leader].host);
  }
  std::vector<DeviceRecord> records;
  for (const RankDescription& r : ranks) {
    records.push_back(r.record);
    records.back().device.node = node_of_leader[r.node_leader];
  }
  return assemble_topology(records, std::move(node_names), network);
}

void check_all_agree(MPI_Comm comm, const Topology& topology, Seconds timeout) {
  std::uint64_t hash = content_hash(topology), low = 0, high = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  complete_collective(MPI_Iallreduce(&hash, &low, 1, MPI_UINT64_T, MPI_MIN, comm, &request), request, comm,
                      timeout, "topology discovery: all-reduce of the trees' lowest hash");
  complete_collective(MPI_Iallreduce(&hash, &high, 1, MPI_UINT64_T, MPI_MAX, comm, &request), request, comm,
                      timeout, "topology discovery: all-reduce of the trees' highest hash");
  if (low != high) throw Error("ranks built different topologies (content hashes differ)");
}

}  // namespace

Topology discover_job(MPI_Comm comm, std::optional<DeviceKind> device, LinkModel network,
                      std::optional<Seconds> timeout) {
  const Seconds deadline = collective_timeout(timeout);
  std::vector<RankDescription> ranks = all_gather(comm, describe_this_rank(comm, device, deadline), deadline);
  throw_first_failure(ranks);
  Topology topology = assemble_job(ranks, network);
  check_all_agree(comm, topology, deadline);
  return topology;
}

}  // namespace spmd::launcher
