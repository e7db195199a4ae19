// Time to build and print the summary of a 1,024-node x 16-GPU cluster (the DGX-2 file
// replicated). The target is well under a second in total.
#include <chrono>
#include <cstdio>
#include <string>

#include "launcher/topology.h"

namespace {

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main() {
  using namespace spmd::launcher;
  constexpr int kNodes = 1024;
  auto start = std::chrono::steady_clock::now();
  Topology topology = load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", kNodes, DeviceKind::gpu});
  double build_ms = milliseconds_since(start);
  start = std::chrono::steady_clock::now();
  std::string text = to_text(topology);
  double print_ms = milliseconds_since(start);
  std::fputs(text.c_str(), stdout);
  std::printf(
      "bench_topology: %d nodes x 16 GPUs = %d devices: build %.1f ms, summary %.1f ms, "
      "total %.1f ms (target < 1000 ms)\n",
      kNodes, topology.num_devices(), build_ms, print_ms, build_ms + print_ms);
  return 0;
}
