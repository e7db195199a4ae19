// Mistakes raise spmd::Error saying what and where, on the rank that can tell, instead of
// corrupting data or hanging.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "collectives/nccl/nccl_communicator.h"
#include "collectives/primitives.h"
#include "common/error.h"
#include "launcher/mpi_wait.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

using ::testing::HasSubstr;

// The message of the spmd::Error `action` throws ("" and a failure if it throws none).
template <class Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no spmd::Error thrown";
  return "";
}

using ErrorsTest = MpiTest;

TEST_F(ErrorsTest, WrongOutputSizeNamesPrimitiveExpectedAndGiven) {
  std::vector<float> data(10), out(partition(10, size()).count(rank()) + 1);
  const std::string message = error_of([&] { reduce_scatter(comm(), data, out, ReduceOp::sum, Algorithm::ring); });
  EXPECT_THAT(message, HasSubstr("reduce_scatter"));
  EXPECT_THAT(message, HasSubstr("has " + std::to_string(out.size()) + " elements"));
  EXPECT_THAT(message, HasSubstr("expected " + std::to_string(out.size() - 1)));
}

TEST_F(ErrorsTest, WrongInputSizeOfAllGather) {
  std::vector<float> in(partition(12, size()).count(rank()) + 2), out(12);
  EXPECT_THAT(error_of([&] { all_gather(comm(), in, out, Algorithm::native); }), HasSubstr("all_gather: in has"));
}

TEST_F(ErrorsTest, AllToAllNeedsEqualSizesAndAMultipleOfP) {
  std::vector<float> in(2 * size()), out(2 * size() + 1);
  EXPECT_THAT(error_of([&] { all_to_all(comm(), in, out, Algorithm::pairwise); }), HasSubstr("all_to_all: out has"));
  if (size() > 1) {
    std::vector<float> odd(2 * size() + 1), odd_out(2 * size() + 1);
    EXPECT_THAT(error_of([&] { all_to_all(comm(), odd, odd_out, Algorithm::pairwise); }),
                HasSubstr("not a multiple"));
  }
}

TEST_F(ErrorsTest, AlgorithmAPrimitiveDoesNotImplement) {
  std::vector<float> in(size()), out(size()), data(4);
  EXPECT_THAT(error_of([&] { all_to_all(comm(), in, out, Algorithm::ring); }), HasSubstr("'ring'"));
  EXPECT_THAT(error_of([&] { all_reduce(comm(), data, ReduceOp::sum, Algorithm::pairwise); }),
              HasSubstr("all_reduce"));
  EXPECT_THAT(error_of([&] { broadcast(comm(), data, 0, Algorithm::ring); }), HasSubstr("broadcast"));
  EXPECT_THAT(error_of([&] { broadcast(comm(), data, size(), Algorithm::binomial_tree); }), HasSubstr("root"));
}

TEST_F(ErrorsTest, ShorterMessageThanExpected) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  if (rank() == 0) comm().send(std::vector<float>(10), 1);
  if (rank() == 1) {
    std::vector<float> buffer(12);
    EXPECT_THAT(error_of([&] { comm().recv(buffer, 0); }), HasSubstr("rank 0 sent 10 floats, expected 12"));
  }
}

TEST_F(ErrorsTest, LongerMessageThanExpected) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  if (rank() == 0) comm().send(std::vector<float>(12), 1);
  if (rank() == 1) {
    std::vector<float> buffer(10);
    EXPECT_THAT(error_of([&] { comm().recv(buffer, 0); }), HasSubstr("rank 0 sent more than the 10 floats"));
  }
}

TEST_F(ErrorsTest, MissingMessageTimesOut) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  comm().set_timeout(std::chrono::milliseconds(500));
  if (rank() == 1) {
    std::vector<float> buffer(4);
    const std::string message = error_of([&] { comm().recv(buffer, 0); });
    EXPECT_THAT(message, HasSubstr("recv from rank 0 timed out after 0.5 s"));
    const std::vector<float> data(4);
    EXPECT_THAT(error_of([&] { comm().sendrecv(data, 0, buffer, 0); }), HasSubstr("timed out"));
    const std::vector<Communicator::RecvFrom> recvs{{buffer, 0}};
    EXPECT_THAT(error_of([&] { comm().exchange_all({}, recvs); }), HasSubstr("recv from rank 0 timed out after 0.5 s"));
  }
}

// Rank 1 comes to the all-reduce after the deadline, which the others wait for on a thread
// that must not wait inside MPI (a communication stream's): they fail with spmd::JobFailure
// naming the operation. MPI cannot cancel a collective, so their buffer stays MPI's (static)
// until rank 1 completes it. (Where blocking waits are allowed, the deadline ends the
// process instead: collectives_late_collective_ends_at_the_deadline.)
TEST_F(ErrorsTest, NativeCollectiveOnAThreadThatMustNotBlockTimesOut) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  comm().set_timeout(std::chrono::milliseconds(500));
  static std::vector<float> data(16, 1.0f);
  launcher::set_blocking_waits(false);
  struct Restore {
    ~Restore() { launcher::set_blocking_waits(true); }
  } restore;
  if (rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    comm().set_timeout(std::chrono::seconds(30));
    comm().native_all_reduce(data, ReduceOp::sum);
    return;
  }
  try {
    comm().native_all_reduce(data, ReduceOp::sum);
    ADD_FAILURE() << "no spmd::JobFailure thrown";
  } catch (const JobFailure& e) {
    EXPECT_THAT(e.what(), HasSubstr("MPI_Iallreduce timed out after 0.5 s"));
  }
}

// A rank that never joins a split fails the others at the deadline instead of hanging
// them in MPI_Comm_split; it joins their barrier late, so nothing is left pending.
TEST_F(ErrorsTest, SplitTimesOut) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  comm().set_timeout(std::chrono::milliseconds(500));
  if (rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    // The late rank joins with the nonblocking form too: Open MPI 4.1 left an MPI_Ibarrier
    // unmatched by a blocking MPI_Barrier here.
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Ibarrier(comm().handle(), &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    return;
  }
  EXPECT_THAT(error_of([&] { comm().split(0, rank()); }), HasSubstr("split: the ranks meeting to split timed out"));
}

// A rank late to a barrier of node-shared flags is named by every other rank at the
// deadline; it passes when it comes (its peers' counts are there), and the group goes on.
TEST_F(ErrorsTest, ANodeSharedBarrierNamesTheRankThatDidNotCome) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  comm().barrier();  // every rank there while the flags are made
  comm().set_timeout(std::chrono::milliseconds(500));
  if (rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    comm().barrier();
  } else {
    try {
      comm().barrier();
      ADD_FAILURE() << "no spmd::JobFailure thrown";
    } catch (const JobFailure& e) {
      EXPECT_THAT(e.what(), HasSubstr("waiting for rank 1 to depart timed out after 0.5 s"));
    }
  }
  comm().set_timeout(std::chrono::seconds(30));
  std::vector<float> data(8, 1.0f);
  all_reduce(comm(), data, ReduceOp::sum, Algorithm::shared_memory);
  EXPECT_EQ(data[7], static_cast<float>(size()));
}

// A rank waiting for a peer that does not come backs off: well under a core.
TEST_F(ErrorsTest, AWaitingRankLeavesItsCoreToOthers) {
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  comm().set_timeout(std::chrono::seconds(1));
  if (rank() != 1) return;
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> buffer(4);
  error_of([&] { comm().recv(buffer, 0); });
  getrusage(RUSAGE_THREAD, &after);
  auto cpu = [](const rusage& u) {
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(cpu(after) - cpu(before), 0.2 * wall) << cpu(after) - cpu(before) << " s of CPU in " << wall << " s";
}

TEST_F(ErrorsTest, TimeoutFromEnvironment) {
  setenv("SPMD_COLLECTIVE_TIMEOUT_S", "2.5", 1);
  EXPECT_EQ(MpiCommunicator(comm().handle()).timeout().count(), 2.5);
  setenv("SPMD_COLLECTIVE_TIMEOUT_S", "soon", 1);
  EXPECT_THAT(error_of([&] { MpiCommunicator{comm().handle()}; }), HasSubstr("SPMD_COLLECTIVE_TIMEOUT_S"));
  unsetenv("SPMD_COLLECTIVE_TIMEOUT_S");
}

TEST_F(ErrorsTest, PeerOutsideTheGroup) {
  std::vector<float> buffer(1);
  EXPECT_THAT(error_of([&] { comm().recv(buffer, size()); }), HasSubstr("not in this group"));
}

TEST_F(ErrorsTest, NcclWithoutGpuSaysWhy) {
  try {
    const std::unique_ptr<Communicator> nccl = make_nccl_communicator(comm().handle());
    EXPECT_EQ(nccl->backend(), "nccl");  // a machine with GPUs
  } catch (const Error& e) {
    const std::string message = e.what();
#ifdef SPMD_HAVE_NCCL
    EXPECT_THAT(message, HasSubstr("NCCL: no CUDA device visible (cudaGetDeviceCount: "));
#else
    EXPECT_THAT(message, HasSubstr("built without NCCL"));
#endif
  }
}

}  // namespace
}  // namespace spmd::collectives::testing
