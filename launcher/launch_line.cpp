#include "launcher/launch_line.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "common/error.h"
#include "launcher/gpus.h"
#include "launcher/hwloc_handle.h"
#include "launcher/node_devices.h"

namespace spmd::launcher {
namespace {

// Ranks beyond the PUs (mpirun's --oversubscribe) are bound too, round-robin: Open MPI
// refuses a binding of more ranks than PUs unless its overload is allowed, and unbound, 4
// ranks on 2 cores paired on them by chance: mlp megatron took 0.36-0.55 ms a step from run
// to run, bound 0.34-0.37.
std::vector<std::string> mapping_for(DeviceKind kind, const NodeShape& node) {
  switch (kind) {
    case DeviceKind::core:
      return {"--map-by", "core", "--bind-to", "core:overload-allowed"};
    case DeviceKind::numa:
      return {"--map-by", "numa", "--bind-to", "numa:overload-allowed"};
    case DeviceKind::package:
      return {"--map-by", "socket", "--bind-to", "socket:overload-allowed"};
    case DeviceKind::gpu:
      if (node.gpus < 1)
        throw Error("--map-by gpu: this node has no GPUs (" + std::to_string(node.packages) +
                    " packages); use --map-by numa, package or core");
      // GPUs are numbered in PCI order, which follows the packages: filling each package
      // with its share of ranks puts local rank i next to GPU i.
      if (node.packages > 0 && node.gpus % node.packages == 0)
        return {"--map-by", "ppr:" + std::to_string(node.gpus / node.packages) + ":socket", "--bind-to",
                "socket"};
      return {"--map-by", "ppr:" + std::to_string(node.gpus) + ":node", "--bind-to", "none"};
    case DeviceKind::node:
      break;
  }
  throw Error("--map-by " + to_string(kind) + ": expected gpu, numa, package or core");
}

bool needs_quotes(const std::string& word) {
  if (word.empty()) return true;
  for (char c : word)
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("-_./:=,+@%").find(c) != std::string_view::npos))
      return true;
  return false;
}

}  // namespace

NodeShape local_node_shape() {
  HwlocTopology node = load_hwloc_topology("local");
  int packages = hwloc_get_nbobjs_by_type(node.get(), HWLOC_OBJ_PACKAGE);
  return {std::max(packages, 1), static_cast<int>(find_gpus(node.get()).size())};
}

std::vector<std::string> mpirun_command(const LaunchRequest& request, const NodeShape& node, bool as_root,
                                        const std::string& mpirun_path) {
  if (request.ranks < 1)
    throw Error("spmd launch: -np " + std::to_string(request.ranks) + ": need at least one rank");
  if (request.command.empty())
    throw Error("spmd launch: nothing to run: give the command after '--' (-- spmd run ...)");
  std::vector<std::string> line{mpirun_path};
  if (as_root) line.push_back("--allow-run-as-root");
  line.insert(line.end(), {"-np", std::to_string(request.ranks)});
  DeviceKind kind = request.map_by.value_or(node.gpus > 0 ? DeviceKind::gpu : DeviceKind::numa);
  for (std::string& word : mapping_for(kind, node)) line.push_back(std::move(word));
  line.insert(line.end(), request.mpirun_args.begin(), request.mpirun_args.end());
  line.insert(line.end(), request.command.begin(), request.command.end());
  return line;
}

std::string shell_line(const std::vector<std::string>& command) {
  std::string line;
  for (const std::string& word : command) {
    if (!line.empty()) line += ' ';
    if (!needs_quotes(word)) {
      line += word;
      continue;
    }
    line += '\'';
    for (char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

}  // namespace spmd::launcher
