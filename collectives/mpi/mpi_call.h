// Small helpers shared by the MPI backend's files: MPI's error text, int counts, reduction ops.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <string>

#include "collectives/communicator.h"
#include "common/error.h"

namespace spmd::collectives {

inline std::string mpi_message(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) return "MPI error code " + std::to_string(rc);
  return std::string(text, length);
}

inline int mpi_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT_MAX)) {
    throw Error(std::string(what) + ": " + std::to_string(n) + " floats exceed MPI's int count limit");
  }
  return static_cast<int>(n);
}

inline MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : MPI_MAX; }

}  // namespace spmd::collectives
