// The hardware a job runs on, as one tree: cluster > node > groups > package > NUMA node >
// device, where groups are hwloc Group objects (tiers of packages or NUMA nodes).
//
// The leaves are the job's devices, one per rank (a GPU, a NUMA node, a package, a core, or a
// whole node). The inner levels group them; a level whose every group has a single child is
// folded away, so `levels()` lists only the levels where the devices really branch. Each
// level carries the link model of a transfer between two devices whose lowest common group
// is at that level: for a DGX-2 cluster, `cluster` (network between nodes), `node` (NVSwitch
// between GPUs of different packages), `package` (NVSwitch between GPUs of one package).
//
// A Topology comes from hwloc: `discover_job` for the live job over MPI, `load_topology` for
// a cluster this machine is not (an hwloc XML file or synthetic string, repeated over nodes).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spmd::launcher {

// What one rank drives. `node` is a rank that is bound to (or may run on) the whole node.
enum class DeviceKind { gpu, numa, package, core, node };

// Parses "gpu", "numa", "package", "core" or "node"; throws spmd::Error on anything else.
DeviceKind parse_device_kind(const std::string& name);
std::string to_string(DeviceKind kind);

// What carries a transfer between two devices; each kind has a default LinkModel
// (default_link), to be replaced by measured figures. shared_memory: devices of one NUMA
// node that share no CPU cache; cross_group: devices in different hwloc Groups of packages
// or NUMA nodes (a further tier of the machine's interconnect).
enum class LinkKind {
  shared_cache,
  shared_memory,
  cross_numa,
  cross_package,
  cross_group,
  pcie,
  nvlink,
  nvswitch,
  network
};
std::string to_string(LinkKind kind);

// Alpha-beta model of one link: moving `bytes` costs latency_s + bytes / bandwidth_Bps.
struct LinkModel {
  double latency_s = 0;
  double bandwidth_Bps = 0;  // bytes per second
  double transfer_seconds(double bytes) const { return latency_s + bytes / bandwidth_Bps; }
  bool operator==(const LinkModel&) const = default;
};

// The default figures for a link kind: rough, typical of current hardware, and meant to be
// replaced by measurements. The network default is 100 Gbit/s and 2 us (see TopologySource).
LinkModel default_link(LinkKind kind);

// A collective algorithm's own figures on a level, measured (`spmd profile` fits alpha,
// beta and gamma to its times over sizes, collectives/cost_fit.h): they cost that algorithm
// there in place of the link's latency and bandwidth.
struct MeasuredAlgorithm {
  std::string primitive;  // "all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"
  std::string algorithm;  // "ring", "recursive_doubling", ... (collectives::to_string)
  // The band of buffer sizes these figures hold for (a protocol or a cache changes the
  // line): up to this many bytes, 0 for any larger size. An algorithm may have several
  // bands, smallest first.
  double up_to_bytes = 0;
  double alpha_s = 0, beta_s_per_byte = 0, gamma_s_per_byte = 0;
  double fit_error = 0;   // relative RMS error of the fit over the band
  double offset_s = 0;    // seconds on top of the terms, whatever the size (cost_fit.h says when)
  // How far its runs spread: half their interquartile range over their median, the most
  // over the band's sizes (0: not measured). How far a reader may trust the band; the
  // choice between ours and the backend's own does not read it (synthesize.h says why).
  double spread = 0;
  // Sizes up to this many bytes have no figures here, nor in the algorithm's bands before
  // it: the band was left for larger sizes only (partitioner::native_kept_in_turns). 0: none
  // left out. Not in a profile's file.
  double from_bytes = 0;
  bool operator==(const MeasuredAlgorithm&) const = default;
};

// One leaf of the tree. Indexes are hwloc logical indexes within the device's node, so they
// read the same as `lstopo` on that node; -1 where the device spans several packages or
// NUMA nodes (or the machine has none).
struct Device {
  DeviceKind kind = DeviceKind::core;
  int node = 0;            // index of the node in the job (order of first rank)
  int package = -1;        // hwloc logical index of the package holding the device
  int numa = -1;           // hwloc logical index of the nearest NUMA node holding it
  std::string cpuset;      // PUs (OS indexes, hwloc list syntax "0-3,8") its kernels use
  int gpu = -1;            // GPUs: index among the node's GPUs in PCI order, else -1
  std::string pci_bus_id;  // GPUs: "0000:34:00.0", for cudaDeviceGetByPCIBusId
  // hwloc logical indexes of the Group objects holding the device, one per Group depth of
  // its node, outermost first (-1 at a depth where none holds it).
  std::vector<int> groups;
  // Memory the device has to itself: a GPU's own memory where hwloc reports it (else 0);
  // for the others, the NUMA nodes local to its PUs (memory-only ones such as MCDRAM or HBM
  // included), each split evenly among the devices of its kind within that NUMA node.
  std::int64_t memory_bytes = 0;
  std::string model;  // GPUs: the model name hwloc reports ("Tesla V100-SXM3-32GB-H"), else empty
  bool operator==(const Device&) const = default;
};

// How many processing units a device's cpuset holds (0 for a GPU or an empty set). Parses
// the cpuset with hwloc.
int processing_units(const Device& device);

// One level of the tree, top down. `fanout` is the number of children of each group at
// this level (the largest, where `uniform` is false). Link figures never improve going up:
// a level's bandwidth is at most, and its latency at least, the level's below it.
struct Level {
  std::string name;  // "cluster", "node", "group0", "group1", ... (hwloc Group depths), "package" or "numa"
  int groups = 0;    // how many groups the level has (1 for the top level)
  int fanout = 0;
  bool uniform = true;
  LinkKind link_kind = LinkKind::network;
  LinkModel link;  // between two devices whose lowest common group is at this level
  std::vector<MeasuredAlgorithm> algorithms;  // measured collectives across this level, if any
  bool operator==(const Level&) const = default;
};

class Topology {
 public:
  Topology() = default;
  // `group_of[l][d]` is the index of device d's group at level l (0 .. levels[l].groups-1).
  // Built by the assembly step (assemble.h); nothing here checks the arguments again.
  Topology(std::vector<Device> devices, std::vector<std::string> node_names, std::vector<Level> levels,
           std::vector<std::vector<int>> group_of);

  int num_devices() const { return static_cast<int>(devices_.size()); }
  int num_nodes() const { return static_cast<int>(node_names_.size()); }
  const Device& device(int id) const { return devices_.at(id); }
  const std::vector<Device>& devices() const { return devices_; }
  // Host names (or "node<i>" for simulated nodes), by node index.
  const std::vector<std::string>& node_names() const { return node_names_; }
  // Levels top down, with the single-child ones folded away. Empty for a single device.
  const std::vector<Level>& levels() const { return levels_; }

  // Index of device's group at `level`. O(1).
  int group_of(int level, int device) const { return group_of_.at(level).at(device); }
  // The deepest level whose group holds both devices: the level whose link a transfer
  // between them crosses. levels().size() when a == b. O(levels).
  int common_level(int a, int b) const;
  // The link model of a transfer from a to b; zero latency, infinite bandwidth when a == b.
  LinkModel link_between(int a, int b) const;
  // The levels that a group of devices spans (those where two of them sit in different
  // children of one group), top down: the levels a collective over the group crosses.
  // O(levels * n log n).
  std::vector<int> levels_spanned(std::span<const int> device_ids) const;
  // The same tree with other link figures: `links[l]` for level l (one per level). What a
  // measured profile or a refitted cost model changes. O(levels x devices).
  Topology with_links(const std::vector<LinkModel>& links) const;
  // The same tree with measured collective algorithms on level `level` (replacing any).
  Topology with_algorithms(int level, std::vector<MeasuredAlgorithm> algorithms) const;

  bool operator==(const Topology&) const = default;

 private:
  std::vector<Device> devices_;
  std::vector<std::string> node_names_;
  std::vector<Level> levels_;
  std::vector<std::vector<int>> group_of_;
};

// Where a simulated topology comes from, and what a rank drives on it.
struct TopologySource {
  // "FILE.xml": one node from an hwloc XML export (hwloc_topology_set_xml);
  // "synthetic:package:2 numa:2 core:8": hwloc's synthetic description (a missing last
  // "pu" level is added, one PU per core); "local": this machine, read with hwloc.
  std::string spec = "local";
  int nodes = 1;  // the node repeated this many times behind the network
  // What one rank drives; unset: GPU where the node has GPUs, else NUMA node.
  std::optional<DeviceKind> device;
  // Between nodes; 100 Gbit/s, 2 us. Leave it out of a braced initializer to keep this
  // default: `{spec, nodes, device}`.
  LinkModel network{2e-6, 100e9 / 8};
};

// Loads the node that `source` describes with hwloc (I/O devices included), takes its
// devices of the chosen kind and repeats the node `source.nodes` times. Needs no MPI.
// Throws spmd::Error for a missing or malformed file, a bad synthetic string, a device kind
// the node lacks, or fewer than one node. Costs one hwloc load (about a millisecond for the
// files in tests/data/topologies) plus O(devices log devices).
Topology load_topology(const TopologySource& source);

// The live job: every rank of `comm` reads its node with hwloc, finds its binding and (on a
// GPU node) its GPU by local rank, honouring CUDA_VISIBLE_DEVICES; the ranks exchange these
// descriptions (one MPI_Allgatherv) and each builds the same Topology, device i = rank i.
// Collective over `comm`. Checks by a hash that all ranks built the same tree. A failure on
// any rank (e.g. `device` is gpu on a node without GPUs) throws spmd::Error on every rank
// with that rank's reason, so none is left waiting. Every wait lasts at most `timeout`
// (unset: SPMD_COLLECTIVE_TIMEOUT_S, else 60 s): a rank that does not come throws
// spmd::JobFailure naming the exchange on the others. Cost: one hwloc load per rank, a
// barrier, three small collectives and the all-gather of the descriptions (a few hundred
// bytes per rank).
Topology discover_job(MPI_Comm comm, std::optional<DeviceKind> device = std::nullopt,
                      LinkModel network = TopologySource{}.network,
                      std::optional<std::chrono::duration<double>> timeout = std::nullopt);

// A stable name of the topology's shape, 16 hex digits: it changes when nodes, devices,
// levels or link models change, and does not when only the numbering of ranks or nodes (or
// the host names) does, or the memory the nodes report (a VM onlines memory after boot).
// For noticing a changed topology across restarts, and a profile taken on other hardware.
// O(n log n).
std::string fingerprint(const Topology& topology);

// A hash of everything in the topology, rank order and host names included: ranks compare
// it to check they all built the same tree. O(n).
std::uint64_t content_hash(const Topology& topology);

// The tree as lstopo would print it, compact: identical sibling subtrees are printed once
// with a count, so 1,024 nodes x 16 GPUs is a screenful. Includes the per-level link
// models and the fingerprint.
std::string to_text(const Topology& topology);

// Machine-readable form: {fingerprint, nodes, devices: [{id, kind, node, package, numa,
// groups, memory_bytes, cpuset | gpu, pci_bus_id, model}], levels: [{name, groups, fanout, uniform,
// link, bandwidth_gbps (Gbit/s), latency_us}]}. Figures are rounded to 12 significant digits
// so that they print as the decimals they stand for (0.1, not 0.09999999999999999).
nlohmann::json to_json(const Topology& topology);

}  // namespace spmd::launcher
