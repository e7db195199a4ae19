#include "launcher/gpus.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <tuple>

#include "common/error.h"

namespace spmd::launcher {
namespace {

constexpr unsigned kVendorNvidia = 0x10de;
constexpr unsigned kVendorAmd = 0x1002;

constexpr unsigned kClassVga = 0x0300, kClass3d = 0x0302, kClassOtherDisplay = 0x0380;
constexpr double kMinVgaLinkGBps = 2.0;  // PCIe 4.0 x1 is 1.97 GB/s

// hwloc's compute backends hang co-processor OS devices (CUDA, OpenCL, Level Zero) or GPU
// OS devices with an NVML or RSMI subtype under the PCI device; the "cardN" GPU OS devices
// of Linux DRM come with any display and say nothing (hwloc docs, "OS devices").
bool has_compute_backend(hwloc_obj_t pci) {
  for (hwloc_obj_t child = pci->io_first_child; child; child = child->next_sibling) {
    if (child->type != HWLOC_OBJ_OS_DEVICE) continue;
    if (child->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC) return true;
    std::string subtype = child->subtype ? child->subtype : "";
    if (subtype == "NVML" || subtype == "RSMI") return true;
  }
  return false;
}

bool is_gpu(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  return is_compute_gpu({a.vendor_id, a.class_id, a.linkspeed, has_compute_backend(pci)});
}

std::string bus_id(hwloc_obj_t pci) {
  char text[32];
  const auto& a = pci->attr->pcidev;
  std::snprintf(text, sizeof text, "%04x:%02x:%02x.%01x", unsigned(a.domain), unsigned(a.bus),
                unsigned(a.dev), unsigned(a.func));
  return text;
}

auto bus_order(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  return std::tuple(a.domain, a.bus, a.dev, a.func);
}

std::string uuid_of(hwloc_obj_t pci) {
  for (hwloc_obj_t child = pci->io_first_child; child; child = child->next_sibling) {
    if (const char* uuid = hwloc_obj_get_info_by_name(child, "NVIDIAUUID")) return uuid;
  }
  return {};
}

// hwloc's CUDA and OpenCL backends give the memory in KiB (hwloc docs, "Custom string
// infos": CUDAGlobalMemorySize, OpenCLGlobalMemorySize).
std::int64_t memory_of(hwloc_obj_t pci) {
  for (const char* name : {"CUDAGlobalMemorySize", "OpenCLGlobalMemorySize"})
    for (hwloc_obj_t child = pci->io_first_child; child; child = child->next_sibling)
      if (const char* kib = hwloc_obj_get_info_by_name(child, name)) return std::strtoll(kib, nullptr, 10) * 1024;
  return 0;
}

// The model name hwloc's GPU backends give (the "GPUModel" info of the PCI device's OS
// devices), empty when none does.
std::string model_of(hwloc_obj_t pci) {
  for (hwloc_obj_t child = pci->io_first_child; child; child = child->next_sibling) {
    if (const char* model = hwloc_obj_get_info_by_name(child, "GPUModel")) return model;
  }
  return {};
}

// The PCI device an object of an NVLinkBandwidth matrix stands for (OS devices hang under
// their PCI device).
hwloc_obj_t pci_of(hwloc_obj_t obj) {
  while (obj && obj->type == HWLOC_OBJ_OS_DEVICE) obj = obj->parent;
  return obj && obj->type == HWLOC_OBJ_PCI_DEVICE ? obj : nullptr;
}

int gpu_index(const std::vector<Gpu>& gpus, hwloc_obj_t obj) {
  hwloc_obj_t pci = pci_of(obj);
  for (size_t i = 0; i < gpus.size(); ++i)
    if (gpus[i].pci == pci) return static_cast<int>(i);
  return -1;
}

bool is_nvswitch(hwloc_obj_t obj) { return obj && obj->subtype && std::string(obj->subtype) == "NVSwitch"; }

void add_matrix(hwloc_topology_t topology, hwloc_distances_s* distances, const std::vector<Gpu>& gpus,
                NvlinkMatrix& matrix) {
  for (unsigned i = 0; i < distances->nbobjs; ++i) matrix.through_switch |= is_nvswitch(distances->objs[i]);
  // Merging the switch ports then closing transitively reports every GPU pair that talks
  // through NVSwitches as directly connected, with the bandwidth of the path.
  if (matrix.through_switch) {
    hwloc_distances_transform(topology, distances, HWLOC_DISTANCES_TRANSFORM_MERGE_SWITCH_PORTS, nullptr, 0);
    hwloc_distances_transform(topology, distances, HWLOC_DISTANCES_TRANSFORM_TRANSITIVE_CLOSURE, nullptr, 0);
  }
  unsigned n = distances->nbobjs;
  for (unsigned i = 0; i < n; ++i) {
    int a = gpu_index(gpus, distances->objs[i]);
    for (unsigned j = 0; j < n; ++j) {
      int b = gpu_index(gpus, distances->objs[j]);
      if (a < 0 || b < 0 || a == b) continue;
      double megabytes_per_s = static_cast<double>(distances->values[i * n + j]);
      matrix.bandwidth_Bps[a][b] = std::max(matrix.bandwidth_Bps[a][b], megabytes_per_s * 1e6);
    }
  }
}

}  // namespace

bool is_compute_gpu(const PciFacts& pci) {
  if (pci.vendor_id != kVendorNvidia && pci.vendor_id != kVendorAmd) return false;
  if ((pci.class_id >> 8) != 0x03) return false;  // not a display-class device
  if (pci.compute_backend || pci.class_id == kClass3d || pci.class_id == kClassOtherDisplay) return true;
  return pci.class_id == kClassVga && pci.link_GBps >= kMinVgaLinkGBps;
}

std::vector<Gpu> find_gpus(hwloc_topology_t topology) {
  std::vector<Gpu> gpus;
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topology, nullptr); pci;
       pci = hwloc_get_next_pcidev(topology, pci)) {
    if (!is_gpu(pci)) continue;
    double linkspeed_GBps = pci->attr->pcidev.linkspeed;  // hwloc reports GB/s
    gpus.push_back(
        {pci, bus_id(pci), uuid_of(pci), linkspeed_GBps > 0 ? linkspeed_GBps * 1e9 : 0, memory_of(pci), model_of(pci)});
  }
  std::sort(gpus.begin(), gpus.end(),
            [](const Gpu& a, const Gpu& b) { return bus_order(a.pci) < bus_order(b.pci); });
  return gpus;
}

NvlinkMatrix find_nvlink_bandwidth(hwloc_topology_t topology, const std::vector<Gpu>& gpus) {
  NvlinkMatrix matrix;
  unsigned count = 0;
  if (gpus.empty() || hwloc_distances_get_by_name(topology, "NVLinkBandwidth", &count, nullptr, 0) != 0 ||
      count == 0)
    return matrix;
  std::vector<hwloc_distances_s*> all(count);
  hwloc_distances_get_by_name(topology, "NVLinkBandwidth", &count, all.data(), 0);
  matrix.bandwidth_Bps.assign(gpus.size(), std::vector<double>(gpus.size(), 0.0));
  for (unsigned k = 0; k < count; ++k) {
    add_matrix(topology, all[k], gpus, matrix);
    hwloc_distances_release(topology, all[k]);
  }
  return matrix;
}

std::vector<int> visible_gpus(const std::vector<Gpu>& gpus, const char* cuda_visible_devices) {
  std::vector<int> visible;
  if (cuda_visible_devices == nullptr) {
    for (size_t i = 0; i < gpus.size(); ++i) visible.push_back(static_cast<int>(i));
    return visible;
  }
  std::istringstream entries(cuda_visible_devices);
  std::string entry;
  while (std::getline(entries, entry, ',')) {
    if (entry.empty()) continue;
    int found = -1;
    if (entry.starts_with("GPU-")) {
      for (size_t i = 0; i < gpus.size(); ++i)
        if (gpus[i].uuid.starts_with(entry)) found = static_cast<int>(i);
    } else if (std::all_of(entry.begin(), entry.end(), ::isdigit)) {
      int index = -1;  // past an int: no such GPU
      std::from_chars(entry.data(), entry.data() + entry.size(), index);
      if (index >= 0 && index < static_cast<int>(gpus.size())) found = index;
    } else if (entry == "-1" || entry == "NoDevFiles") {
      break;  // CUDA stops at an invalid entry: nothing after it is visible
    }
    if (found < 0)
      throw Error("CUDA_VISIBLE_DEVICES='" + std::string(cuda_visible_devices) + "' names '" + entry +
                  "', but this node has " + std::to_string(gpus.size()) + " GPUs");
    visible.push_back(found);
  }
  return visible;
}

}  // namespace spmd::launcher
