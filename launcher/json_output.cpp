#include <cstdio>
#include <cstdlib>

#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

// `value * scale` as the nearest double to its 12-significant-digit decimal: the product
// carries the rounding of the binary scale (0.1e-6 s * 1e6 is 0.09999999999999999 us),
// which nlohmann::json, printing the shortest decimal that reads back the same double,
// would show. Twelve digits are far more than the figures mean.
double in_unit(double value, double scale) {
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", value * scale);
  return std::strtod(text, nullptr);
}

nlohmann::json device_json(int id, const Device& d) {
  nlohmann::json j{{"id", id},         {"kind", to_string(d.kind)},  {"node", d.node},
                   {"package", d.package}, {"numa", d.numa},            {"groups", d.groups},
                   {"cpuset", d.cpuset},   {"memory_bytes", d.memory_bytes}};
  if (d.kind == DeviceKind::gpu) {
    j["gpu"] = d.gpu;
    j["pci_bus_id"] = d.pci_bus_id;
    if (!d.model.empty()) j["model"] = d.model;
  }
  return j;
}

nlohmann::json level_json(const Level& level) {
  return {{"name", level.name},
          {"groups", level.groups},
          {"fanout", level.fanout},
          {"uniform", level.uniform},
          {"link", to_string(level.link_kind)},
          {"bandwidth_gbps", in_unit(level.link.bandwidth_Bps, 8 / 1e9)},  // Gbit/s
          {"latency_us", in_unit(level.link.latency_s, 1e6)}};
}

}  // namespace

nlohmann::json to_json(const Topology& topology) {
  nlohmann::json devices = nlohmann::json::array();
  for (int id = 0; id < topology.num_devices(); ++id) devices.push_back(device_json(id, topology.device(id)));
  nlohmann::json levels = nlohmann::json::array();
  for (const Level& level : topology.levels()) levels.push_back(level_json(level));
  return {{"fingerprint", fingerprint(topology)},
          {"nodes", topology.node_names()},
          {"devices", std::move(devices)},
          {"levels", std::move(levels)}};
}

}  // namespace spmd::launcher
