// Run under mpirun on 2 ranks (tests/collectives/CMakeLists.txt checks what it prints and
// its exit code): rank 0 comes to a split and gives up at its deadline, rank 1 comes after.
// Rank 0 had posted its part of the barrier before the split, so rank 1 passes that barrier
// alone; without a deadline of its own, MPI_Comm_split would then wait for rank 0 forever.
// Rank 1 must end the job at its deadline instead, saying where (exit 3).
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  spmd::collectives::MpiCommunicator comm(MPI_COMM_WORLD);
  comm.set_timeout(std::chrono::milliseconds(500));
  if (comm.rank() == 0) {
    try {
      comm.split(0, 0);
      std::printf("rank 0: the split went through\n");
    } catch (const spmd::JobFailure& e) {
      std::printf("rank 0: %s\n", e.what());
    }
    std::fflush(stdout);
    // Alive until rank 1 has had its deadline: the job is ended by rank 1's exit.
    std::this_thread::sleep_for(std::chrono::seconds(20));
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    comm.split(0, 1);
    std::printf("rank 1: the split went through\n");
  }
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);  // neither rank should get here
}
