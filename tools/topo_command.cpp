// `spmd topo`: print the hardware tree of the live job (under mpirun, once, by rank 0) or of
// a simulated cluster (--topology).
#include <mpi.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "launcher/topology.h"
#include "tools/commands.h"

namespace spmd::tools {
namespace {

struct TopoOptions {
  std::string topology;  // empty: the live job
  int nodes = 1;
  bool nodes_given = false;
  std::string device;  // empty: the default for the node
  bool json = false;
  double network_gbps = 100;
  double network_latency_us = 2;
};

launcher::Topology topology_for(const TopoOptions& options) {
  std::optional<launcher::DeviceKind> device;
  if (!options.device.empty()) device = launcher::parse_device_kind(options.device);
  launcher::LinkModel network{options.network_latency_us * 1e-6, options.network_gbps * 1e9 / 8};
  if (options.topology.empty()) {
    if (options.nodes_given)
      throw Error("--nodes " + std::to_string(options.nodes) +
                  " simulates a cluster: it needs --topology FILE.xml or 'synthetic:...'");
    return launcher::discover_job(MPI_COMM_WORLD, device, network);
  }
  return launcher::load_topology({options.topology, options.nodes, device, network});
}

void run_topo(const TopoOptions& options) {
  // Every rank loads or discovers, so that a bad file fails on all of them alike.
  launcher::Topology topology = topology_for(options);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  if (options.json)
    std::cout << launcher::to_json(topology).dump(2) << "\n";
  else
    std::cout << launcher::to_text(topology);
  std::cout.flush();
}

}  // namespace

void add_topo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("topo", "Print the job's hardware tree");
  auto options = std::make_shared<TopoOptions>();
  cmd->add_option("--topology", options->topology,
                  "Simulate instead of discovering the job: an hwloc XML file, "
                  "'synthetic:package:2 numa:2 core:8', or 'local' (this machine)");
  cmd->add_option_function<int>(
      "--nodes", [options](int n) { options->nodes = n, options->nodes_given = true; },
      "With --topology: repeat the node N times behind the network");
  cmd->add_option("--device", options->device,
                  "What one rank drives: gpu, numa, package, core or node "
                  "(default: gpu where the node has GPUs, else numa)");
  cmd->add_flag("--json", options->json, "Write JSON: fingerprint, devices, levels");
  cmd->add_option("--network-gbps", options->network_gbps, "Bandwidth between nodes, Gbit/s")
      ->capture_default_str();
  cmd->add_option("--network-latency-us", options->network_latency_us, "Latency between nodes, microseconds")
      ->capture_default_str();
  cmd->callback([options] { run_topo(*options); });
}

}  // namespace spmd::tools
