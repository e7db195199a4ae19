// gather_text over the ranks of mpirun: every rank's text reaches rank 0 whole, whatever its
// length (empty, not a whole number of floats, large), and a rank that sends nothing fails
// the gather at its deadline instead of hanging it.
#include <gtest/gtest.h>

#include <chrono>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "runtime/text_gather.h"

namespace spmd::runtime {
namespace {

// A text of a length that differs per rank, with bytes of every value.
std::string text_of(int rank) {
  std::string s;
  for (int i = 0; i < rank * 1001 + (rank % 3); ++i) s.push_back(static_cast<char>((i * 31 + rank) & 0xff));
  return s;
}

TEST(GatherText, RankZeroGetsEveryRanksTextInRankOrder) {
  collectives::MpiCommunicator comm(MPI_COMM_WORLD);
  std::vector<std::string> all = gather_text(comm, text_of(comm.rank()));
  if (comm.rank() != 0) {
    EXPECT_TRUE(all.empty());
    return;
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(all[r], text_of(r)) << "rank " << r;
}

TEST(GatherText, ARankThatSendsNothingFailsTheGatherAtItsDeadline) {
  collectives::MpiCommunicator comm(MPI_COMM_WORLD);
  if (comm.size() < 2) GTEST_SKIP() << "needs a peer";
  comm.set_timeout(std::chrono::duration<double>(0.5));
  if (comm.rank() == 0) {
    EXPECT_THROW(gather_text(comm, "mine"), Error);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace spmd::runtime
