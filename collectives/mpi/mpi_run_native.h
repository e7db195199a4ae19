// MpiCommunicator::run_native, defined where the MPI backend's files that call it see it:
// MPI's blocking collective under a deadline, or its nonblocking form completed in time.
#pragma once

#include "collectives/mpi/mpi_communicator.h"
#include "launcher/deadline_guard.h"
#include "launcher/mpi_wait.h"

namespace spmd::collectives {

template <class Blocking, class What, class Posted>
void MpiCommunicator::run_native(const char* call, const Blocking& blocking, const What& what,
                                 const Posted& posted) const {
  if (launcher::blocking_waits()) {
    int rc = MPI_SUCCESS;
    {
      const launcher::DeadlineGuard guard(call, rank_, size_, timeout());
      rc = blocking();
    }
    check(rc, call);
    return;
  }
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(posted(&request), request, what());
}

}  // namespace spmd::collectives
