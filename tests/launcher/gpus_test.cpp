// GPUs found as PCI devices (with or without NVML/CUDA OS devices under them), their
// NVLink bandwidth, and CUDA_VISIBLE_DEVICES.
#include "launcher/gpus.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "launcher/hwloc_handle.h"
#include "launcher/topology.h"
#include "test_topologies.h"

namespace spmd::launcher {
namespace {

using testing::topology_file;

TEST(FindGpus, CountsEachGpuOnceInPciOrder) {
  HwlocTopology dgx2 = load_hwloc_topology(topology_file("nvidiaDGX2.xml"));
  std::vector<Gpu> gpus = find_gpus(dgx2.get());
  ASSERT_EQ(gpus.size(), 16u);  // not the 12 NVSwitches, which are PCI bridges
  EXPECT_EQ(gpus.front().pci_bus_id, "0000:34:00.0");
  EXPECT_EQ(gpus.back().pci_bus_id, "0000:e7:00.0");
  // POWER8: CUDA, OpenCL and NVML OS devices under each of the 4 PCI devices.
  HwlocTopology power8 = load_hwloc_topology(topology_file("power8gpudistances.xml"));
  EXPECT_EQ(find_gpus(power8.get()).size(), 4u);
}

TEST(FindGpus, PlainPciDisplayDevicesOfNvidiaAndAmdAreGpus) {
  // Three NVIDIA 3D controllers and an AMD VGA, with no NVML or CUDA OS device, as Debian's
  // hwloc shows GPUs; the Matrox VGA of the board is not a GPU.
  HwlocTopology node = load_hwloc_topology(topology_file("32em64t-2n8c2t-pci-normalio.xml"));
  std::vector<Gpu> gpus = find_gpus(node.get());
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[0].pci->attr->pcidev.vendor_id, 0x10de);
  EXPECT_EQ(gpus[0].pci->attr->pcidev.class_id, 0x0302);
  EXPECT_EQ(gpus[3].pci->attr->pcidev.vendor_id, 0x1002);
  EXPECT_EQ(gpus[3].pci->attr->pcidev.class_id, 0x0300);
}

TEST(FindGpus, ServerDisplayChipIsNotAGpu) {
  // The 96-core file's only display device is an ATI ES1000 (1002:515e, VGA) on legacy PCI.
  HwlocTopology node = load_hwloc_topology(topology_file("96em64t-4n4d3ca2co-pci.xml"));
  EXPECT_TRUE(find_gpus(node.get()).empty());
}

TEST(FindGpus, ComputeBackendsGiveTheGpuMemory) {
  HwlocTopology power8 = load_hwloc_topology(topology_file("power8gpudistances.xml"));
  std::vector<Gpu> gpus = find_gpus(power8.get());
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[0].memory_bytes, std::int64_t{16671616} * 1024);  // CUDAGlobalMemorySize, KiB
}

TEST(IsComputeGpu, ClassBackendAndLinkDecide) {
  EXPECT_FALSE(is_compute_gpu({0x1002, 0x0300, 0.25, false}));   // ES1000 on one PCIe 1.0 lane
  EXPECT_FALSE(is_compute_gpu({0x1002, 0x0300, 0, false}));      // ES1000 on legacy PCI
  EXPECT_TRUE(is_compute_gpu({0x1002, 0x0300, 15.75, false}));   // a Radeon on PCIe 3.0 x16
  EXPECT_TRUE(is_compute_gpu({0x1002, 0x0300, 0, true}));        // a Radeon OpenCL reports
  EXPECT_TRUE(is_compute_gpu({0x10de, 0x0302, 0, false}));       // a Tesla
  EXPECT_TRUE(is_compute_gpu({0x1002, 0x0380, 0, false}));       // an Instinct
  EXPECT_FALSE(is_compute_gpu({0x102b, 0x0300, 15.75, false}));  // a Matrox
  EXPECT_FALSE(is_compute_gpu({0x10de, 0x0403, 15.75, true}));   // a GPU's HD audio function
}

// The file with the PUs of one package disallowed, as a job restricted by its batch
// system sees the machine: hwloc keeps the package for its PCI devices and NUMA node.
std::string with_package_disallowed(const std::string& file, unsigned package) {
  hwloc_topology_t raw = nullptr;
  hwloc_topology_init(&raw);
  HwlocTopology topology(raw);
  hwloc_topology_set_flags(raw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_ALL);
  EXPECT_EQ(hwloc_topology_set_xml(raw, file.c_str()), 0);
  EXPECT_EQ(hwloc_topology_load(raw), 0);
  HwlocBitmap allowed(hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(raw)));
  hwloc_bitmap_andnot(allowed.get(), allowed.get(), hwloc_get_obj_by_type(raw, HWLOC_OBJ_PACKAGE, package)->cpuset);
  EXPECT_EQ(hwloc_topology_allow(raw, allowed.get(), nullptr, HWLOC_ALLOW_FLAG_CUSTOM), 0);
  std::string path = (std::filesystem::temp_directory_path() / "spmd-disallowed-package.xml").string();
  EXPECT_EQ(hwloc_topology_export_xml(raw, path.c_str(), 0), 0);
  return path;
}

TEST(GpuPlacement, GpusUnderADisallowedPackageStayInItsNumaNode) {
  // 32 cores: package 1 holds NUMA node 1 and GPUs 1 to 3.
  std::string path = with_package_disallowed(topology_file("32em64t-2n8c2t-pci-normalio.xml"), 1);
  Topology t = load_topology({path, 1, DeviceKind::gpu});
  std::filesystem::remove(path);
  ASSERT_EQ(t.num_devices(), 4);
  for (int gpu = 1; gpu < 4; ++gpu) {
    EXPECT_EQ(t.device(gpu).package, 1) << gpu;
    EXPECT_EQ(t.device(gpu).numa, 1) << gpu;
    EXPECT_EQ(t.device(gpu).cpuset, "0-7,16-23") << gpu;  // the allowed PUs: where its rank runs
  }
  EXPECT_EQ(t.device(0).numa, 0);
}

TEST(NvlinkBandwidth, Dgx2GpusConnectThroughNvswitches) {
  HwlocTopology dgx2 = load_hwloc_topology(topology_file("nvidiaDGX2.xml"));
  std::vector<Gpu> gpus = find_gpus(dgx2.get());
  NvlinkMatrix matrix = find_nvlink_bandwidth(dgx2.get(), gpus);
  EXPECT_TRUE(matrix.through_switch);
  EXPECT_DOUBLE_EQ(matrix.bandwidth_Bps.at(0).at(15), 150e9);
  EXPECT_DOUBLE_EQ(matrix.bandwidth_Bps.at(0).at(0), 0);
}

TEST(NvlinkBandwidth, Power8PairsAreDirect) {
  HwlocTopology power8 = load_hwloc_topology(topology_file("power8gpudistances.xml"));
  NvlinkMatrix matrix = find_nvlink_bandwidth(power8.get(), find_gpus(power8.get()));
  EXPECT_FALSE(matrix.through_switch);
  EXPECT_DOUBLE_EQ(matrix.bandwidth_Bps.at(0).at(1), 40e9);
  EXPECT_DOUBLE_EQ(matrix.bandwidth_Bps.at(0).at(2), 0);
}

TEST(VisibleGpus, FollowsCudaVisibleDevices) {
  std::vector<Gpu> four(4);
  four[2].uuid = "GPU-1234abcd";
  EXPECT_EQ(visible_gpus(four, nullptr), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(visible_gpus(four, "3,1"), (std::vector<int>{3, 1}));
  EXPECT_EQ(visible_gpus(four, "GPU-1234"), (std::vector<int>{2}));
  EXPECT_EQ(visible_gpus(four, ""), (std::vector<int>{}));
  EXPECT_EQ(visible_gpus(four, "0,-1,2"), (std::vector<int>{0}));
  EXPECT_THROW(visible_gpus(four, "7"), Error);
  EXPECT_THROW(visible_gpus(four, "99999999999"), Error);  // past an int: named, not out_of_range
}

}  // namespace
}  // namespace spmd::launcher
