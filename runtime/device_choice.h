// Which backend a rank's kernels run on: the CPU backend (oneDNN) or the CUDA one on the
// rank's GPU. "auto" picks the GPU where the rank's device in the topology is one (or, for a
// job of one process without a topology, where a GPU is visible) and the build has CUDA.
#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "launcher/topology.h"

namespace spmd::runtime {

// The backend for `device` ("cpu", "gpu" or "auto") on `rank`. The GPU is the one at the
// PCI bus id the topology records for the rank, else (rank mod the GPUs visible). Throws
// spmd::Error for another name, or for "gpu" where there is none, saying why.
std::unique_ptr<kernels::Backend> make_rank_backend(const std::string& device, const launcher::Topology* topology,
                                                    int rank);

}  // namespace spmd::runtime
