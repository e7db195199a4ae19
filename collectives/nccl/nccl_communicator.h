// The NCCL backend of Communicator, for ranks that each drive one GPU. Its spans are device
// pointers (cudaMalloc'd); every operation is enqueued on the communicator's own stream and
// waited for with the timeout() deadline (the communicator is aborted when it passes).
// NCCL messages carry no envelope: a receive of another size than was sent cannot be
// told apart from a missing message, and shows as a timeout.
//
// Built only when CMake finds the CUDA toolkit and NCCL (SPMD_HAVE_NCCL); the CPU path never
// needs it.
#pragma once

#include <mpi.h>

#include <memory>

#include "collectives/communicator.h"

namespace spmd::collectives {

// A NCCL communicator over the ranks of `comm` (collective over it: rank 0 creates the NCCL
// id and broadcasts it over MPI). Each rank uses GPU (its rank within the node) mod (GPUs
// visible). Throws spmd::Error when there is no GPU, or when built without NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm);

}  // namespace spmd::collectives
