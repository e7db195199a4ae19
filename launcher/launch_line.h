// The mpirun command line of `spmd launch`: one rank per device, each bound to the cores of
// its device granularity.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "launcher/topology.h"

namespace spmd::launcher {

struct LaunchRequest {
  int ranks = 0;                         // -np
  std::optional<DeviceKind> map_by;      // unset: gpu where this node has GPUs, else numa
  std::vector<std::string> mpirun_args;  // options spmd does not know, passed on in order
  std::vector<std::string> command;      // what each rank runs ("spmd run ...")
};

// What the binding depends on: how many packages and GPUs a node has.
struct NodeShape {
  int packages = 1;
  int gpus = 0;
};

// This machine's shape, read with hwloc (the launch node is taken as like the others).
NodeShape local_node_shape();

// mpirun (or `mpirun_path`) with --allow-run-as-root when `as_root` (Open MPI refuses root
// otherwise), -np, the mapping and binding for the device kind (Open MPI 4 names packages
// "socket"; GPU ranks are placed evenly over the packages, in GPU order), the passed-on
// options, then the command. Throws spmd::Error for no command, fewer than one rank, a
// kind the node lacks, or "node".
std::vector<std::string> mpirun_command(const LaunchRequest& request, const NodeShape& node, bool as_root,
                                        const std::string& mpirun_path);

// The command as one line a shell would run as is (arguments quoted where needed).
std::string shell_line(const std::vector<std::string>& command);

}  // namespace spmd::launcher
