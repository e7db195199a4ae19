// How many kernel threads a rank runs. Ranks bound to the same cores (mpirun --bind-to
// none, or --oversubscribe) would each run as many threads as those cores and fight over
// them: each takes its share instead, unless OMP_NUM_THREADS says otherwise.
#pragma once

#include "launcher/topology.h"

namespace spmd::runtime {

// The threads `rank` should run on `topology` (device i = rank i): its device's processing
// units divided among the ranks bound to the same cpuset of its node, at least 1; 0 when
// nothing is to change (OMP_NUM_THREADS set, no cpuset known, or the rank alone on its
// cores). O(devices).
int kernel_threads_for(const launcher::Topology& topology, int rank);

// Sets the CPU backend's threads to kernel_threads_for(topology, rank) when that is not 0.
void share_cores(const launcher::Topology& topology, int rank);

}  // namespace spmd::runtime
