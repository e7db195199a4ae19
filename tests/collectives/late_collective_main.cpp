// Run under mpirun on 2 ranks (tests/collectives/CMakeLists.txt checks what it prints and
// its exit code): rank 0 comes to MPI's own all-reduce, which runs in its blocking form
// under a deadline (collectives/mpi/mpi_native.cpp); rank 1 comes after that deadline.
// Rank 0 must end the job at its deadline, naming the call (exit 3), rather than wait.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "collectives/mpi/mpi_communicator.h"

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  spmd::collectives::MpiCommunicator comm(MPI_COMM_WORLD);
  comm.set_timeout(std::chrono::milliseconds(500));
  std::vector<float> data(16, 1.0f);
  if (comm.rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(20));
  comm.native_all_reduce(data, spmd::collectives::ReduceOp::sum);
  std::printf("rank %d: the all-reduce went through\n", comm.rank());
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);  // neither rank should get here
}
