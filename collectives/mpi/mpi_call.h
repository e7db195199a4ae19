// Small helpers shared by the MPI backend's files: MPI's error text, int counts, reduction ops.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <string>

#include "collectives/communicator.h"
#include "common/error.h"
#include "launcher/mpi_wait.h"

namespace spmd::collectives {

using launcher::mpi_message;

inline int mpi_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT_MAX)) {
    throw Error(std::string(what) + ": " + std::to_string(n) + " floats exceed MPI's int count limit");
  }
  return static_cast<int>(n);
}

inline MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : MPI_MAX; }

}  // namespace spmd::collectives
