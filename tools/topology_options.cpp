#include "tools/topology_options.h"

#include <cstdio>
#include <optional>

#include "common/error.h"
#include "tools/validators.h"

namespace spmd::tools {

void add_topology_options(CLI::App& cmd, TopologyOptions& options) {
  cmd.add_option("--topology", options.topology,
                 "Simulate instead of discovering the job: an hwloc XML file, "
                 "'synthetic:package:2 numa:2 core:8', or 'local' (this machine)");
  cmd.add_option_function<int>(
         "--nodes", [&options](int n) { options.nodes = n, options.nodes_given = true; },
         "With --topology: repeat the node N times behind the network")
      ->check(kRankCount);
  cmd.add_option("--device", options.device,
                 "What one rank drives: gpu, numa, package, core or node "
                 "(default: gpu where the node has GPUs, else numa)");
  cmd.add_option("--network-gbps", options.network_gbps, "Bandwidth between nodes, Gbit/s")
      ->check(number_between(1e-6, 1e9))
      ->capture_default_str();
  cmd.add_option("--network-latency-us", options.network_latency_us, "Latency between nodes, microseconds")
      ->check(number_between(0, 1e9))
      ->capture_default_str();
}

launcher::Topology topology_from(const TopologyOptions& options, const launcher::World& world) {
  std::optional<launcher::DeviceKind> device;
  if (!options.device.empty()) device = launcher::parse_device_kind(options.device);
  launcher::LinkModel network{options.network_latency_us * 1e-6, options.network_gbps * 1e9 / 8};
  if (options.topology.empty()) {
    if (options.nodes_given)
      throw Error("--nodes " + std::to_string(options.nodes) +
                  " simulates a cluster: it needs --topology FILE.xml or 'synthetic:...'");
    return launcher::discover_job(world.comm(), device, network, world.timeout());
  }
  return launcher::load_topology({options.topology, options.nodes, device, network});
}

namespace {

std::string level_summary(const launcher::Level& level) {
  char text[160];
  std::snprintf(text, sizeof text, "%s %s%d x %s %.4g GB/s %.3g us", level.name.c_str(), level.uniform ? "" : "<=",
                level.fanout, launcher::to_string(level.link_kind).c_str(), level.link.bandwidth_Bps / 1e9,
                level.link.latency_s * 1e6);
  return text;
}

}  // namespace

std::string topology_summary(const launcher::Topology& topology) {
  std::string kind = topology.num_devices() > 0 ? launcher::to_string(topology.device(0).kind) : "device";
  std::string line = std::to_string(topology.num_nodes()) + (topology.num_nodes() == 1 ? " node, " : " nodes, ") +
                     std::to_string(topology.num_devices()) + (topology.num_devices() == 1 ? " device" : " devices") +
                     " (" + kind + ")";
  const char* separator = ": ";
  for (const launcher::Level& level : topology.levels()) {
    line += separator + level_summary(level);
    separator = " | ";
  }
  return line;
}

}  // namespace spmd::tools
