// Which of MPI's own collectives run: the settings of Open MPI's coll framework, read with
// the MPI tools information interface (MPI 4.0 chapter 15, "MPI_T"). `mpirun --mca
// coll_han_priority 100` (or the same in an environment variable or a parameters file)
// makes its han component serve the collectives; a profile times MPI's own under the
// settings it ran with, and its figures for them do not hold under others (on 4 ranks over
// 2 cores han's broadcast of 256 KiB took 36 us against 67 us for the default's).
#pragma once

#include <map>
#include <string>

namespace spmd::launcher {

// The coll framework's settings as "name" -> "value": its component list ("coll"), each
// component's priority ("coll_han_priority" -> "100"), and tuned's forced algorithms and
// rules ("coll_tuned_allreduce_algorithm"). Empty where MPI offers no such variables (an
// MPI other than Open MPI). Call between MPI_Init and MPI_Finalize. Cost: one pass over
// MPI_T's control variables (about a thousand here), under a millisecond.
std::map<std::string, std::string> mpi_collective_settings();

}  // namespace spmd::launcher
