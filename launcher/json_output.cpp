#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

nlohmann::json device_json(int id, const Device& d) {
  nlohmann::json j{{"id", id},         {"kind", to_string(d.kind)},  {"node", d.node},
                   {"package", d.package}, {"numa", d.numa},            {"groups", d.groups},
                   {"cpuset", d.cpuset},   {"memory_bytes", d.memory_bytes}};
  if (d.kind == DeviceKind::gpu) {
    j["gpu"] = d.gpu;
    j["pci_bus_id"] = d.pci_bus_id;
  }
  return j;
}

nlohmann::json level_json(const Level& level) {
  return {{"name", level.name},
          {"groups", level.groups},
          {"fanout", level.fanout},
          {"uniform", level.uniform},
          {"link", to_string(level.link_kind)},
          {"bandwidth_gbps", level.link.bandwidth_Bps * 8 / 1e9},  // Gbit/s
          {"latency_us", level.link.latency_s * 1e6}};
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
