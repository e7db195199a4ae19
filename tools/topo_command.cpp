// `spmd topo`: print the hardware tree of the live job (under mpirun, once, by rank 0) or of
// a simulated cluster (--topology).
#include <iostream>
#include <memory>

#include "launcher/topology.h"
#include "tools/commands.h"
#include "tools/topology_options.h"

namespace spmd::tools {
namespace {

struct TopoOptions {
  TopologyOptions topology;
  bool json = false;
};

void run_topo(const TopoOptions& options, const launcher::World& world) {
  // Every rank loads or discovers, so that a bad file fails on all of them alike.
  launcher::Topology topology = topology_from(options.topology, world);
  if (!world.lead()) return;
  if (options.json)
    std::cout << launcher::to_json(topology).dump(2) << "\n";
  else
    std::cout << launcher::to_text(topology);
  std::cout.flush();
}

}  // namespace

void add_topo_command(CLI::App& app, const launcher::World* world) {
  auto* cmd = app.add_subcommand("topo", "Print the job's hardware tree");
  auto options = std::make_shared<TopoOptions>();
  add_topology_options(*cmd, options->topology);
  cmd->add_flag("--json", options->json, "Write JSON: fingerprint, devices, levels");
  cmd->callback([options, world] { run_topo(*options, *world); });
}

}  // namespace spmd::tools
