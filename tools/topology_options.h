// The command-line options that say which Topology a command works on (--topology, --nodes,
// --device, --network-gbps, --network-latency-us), shared by `spmd topo` and
// `spmd collective`, and the Topology they give: a simulated cluster with --topology, else
// the live job.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "launcher/topology.h"
#include "launcher/world.h"

namespace spmd::tools {

struct TopologyOptions {
  std::string topology;      // FILE.xml, "synthetic:...", "local"; empty: the live job
  int nodes = 1;             // with --topology: the node repeated this many times
  bool nodes_given = false;  // --nodes without --topology is a mistake
  std::string device;        // gpu, numa, package, core, node; empty: the node's default
  double network_gbps = 100;       // between nodes, Gbit/s
  double network_latency_us = 2;   // between nodes, microseconds
};

// Adds the five options to `cmd`. `options` must outlive the parse (keep it in the command's
// callback, as the other commands do).
void add_topology_options(CLI::App& cmd, TopologyOptions& options);

// The topology the options describe: load_topology for --topology, else discover_job over
// the world (collective: every rank must call it). Throws spmd::Error for a bad file,
// synthetic string or device kind, and for --nodes without --topology.
launcher::Topology topology_from(const TopologyOptions& options, const launcher::World& world);

// One line: "4 nodes, 64 devices (gpu): cluster 4 x network 12.5 GB/s 2 us | node 2 x ...".
std::string topology_summary(const launcher::Topology& topology);

}  // namespace spmd::tools
