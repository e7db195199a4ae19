#include "runtime/threads.h"

#include <algorithm>
#include <cstdlib>

#include "kernels/backend.h"

namespace spmd::runtime {

int kernel_threads_for(const launcher::Topology& topology, int rank) {
  const launcher::Device& me = topology.device(rank);
  if (std::getenv("OMP_NUM_THREADS") || me.cpuset.empty()) return 0;
  int sharing = 0;
  for (const launcher::Device& d : topology.devices()) sharing += d.node == me.node && d.cpuset == me.cpuset;
  if (sharing <= 1) return 0;
  return std::max(1, launcher::processing_units(me) / sharing);
}

void share_cores(const launcher::Topology& topology, int rank) {
  if (int threads = kernel_threads_for(topology, rank); threads > 0) kernels::set_cpu_threads(threads);
}

}  // namespace spmd::runtime
