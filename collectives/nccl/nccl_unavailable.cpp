// make_nccl_communicator for builds without the CUDA toolkit or NCCL.
#include "collectives/nccl/nccl_communicator.h"
#include "common/error.h"

namespace spmd::collectives {

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm) {
  throw Error("NCCL: spmd was built without NCCL (CMake found no CUDA toolkit with NCCL, or SPMD_WITH_CUDA=OFF)");
}

}  // namespace spmd::collectives
