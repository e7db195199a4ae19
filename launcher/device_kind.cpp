#include <stdexcept>

#include "common/error.h"
#include "launcher/topology.h"

namespace spmd::launcher {

DeviceKind parse_device_kind(const std::string& name) {
  if (name == "gpu") return DeviceKind::gpu;
  if (name == "numa") return DeviceKind::numa;
  if (name == "package") return DeviceKind::package;
  if (name == "core") return DeviceKind::core;
  if (name == "node") return DeviceKind::node;
  throw Error("unknown device kind '" + name + "' (expected gpu, numa, package, core or node)");
}

std::string to_string(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::gpu:
      return "gpu";
    case DeviceKind::numa:
      return "numa";
    case DeviceKind::package:
      return "package";
    case DeviceKind::core:
      return "core";
    case DeviceKind::node:
      return "node";
  }
  throw std::logic_error("unknown device kind");
}

}  // namespace spmd::launcher
