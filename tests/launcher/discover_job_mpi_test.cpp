// discover_job under mpirun (1 to 4 ranks): one leaf per rank, the same tree on every rank,
// a failure on one rank reported on all of them, and a rank that does not come noticed at
// the deadline.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "launcher/hwloc_handle.h"
#include "launcher/rank_device.h"
#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

template <typename T>
std::vector<T> gather_to_all(T value, MPI_Datatype type) {
  std::vector<T> all(world_size());
  MPI_Allgather(&value, 1, type, all.data(), 1, type, MPI_COMM_WORLD);
  return all;
}

TEST(DiscoverJob, HasOneLeafPerRank) {
  Topology t = discover_job(MPI_COMM_WORLD);
  EXPECT_EQ(t.num_devices(), world_size());
  EXPECT_EQ(t.num_nodes(), 1);  // mpirun here starts every rank on this machine
  for (int d = 0; d < t.num_devices(); ++d) EXPECT_EQ(t.device(d).node, 0);
}

TEST(DiscoverJob, EveryRankBuildsTheSameTree) {
  Topology t = discover_job(MPI_COMM_WORLD);
  std::uint64_t hash = content_hash(t);
  for (std::uint64_t other : gather_to_all<std::uint64_t>(hash, MPI_UINT64_T)) EXPECT_EQ(other, hash);
}

TEST(DiscoverJob, EachRankIsTheDeviceOfItsRankNumber) {
  Topology t = discover_job(MPI_COMM_WORLD);
  HwlocTopology here = load_hwloc_topology("local");
  EXPECT_EQ(t.device(world_rank()).cpuset, process_binding(here.get()));
  if (world_size() > 1) {
    ASSERT_FALSE(t.levels().empty());
    EXPECT_EQ(t.levels().back().fanout, world_size());
  }
}

TEST(DiscoverJob, AFailingRankFailsEveryRankWithItsReason) {
  // This machine has no GPU: every rank fails, and none waits for another.
  try {
    discover_job(MPI_COMM_WORLD, DeviceKind::gpu);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("failed on rank 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no GPUs"), std::string::npos) << e.what();
  }
}

// Rank 1 comes late to discovery: the others fail at the deadline with spmd::JobFailure
// naming the exchange. Rank 1 then meets their barrier, so nothing is left pending.
TEST(DiscoverJob, ARankThatDoesNotComeFailsTheOthersAtTheDeadline) {
  if (world_size() < 2) GTEST_SKIP() << "needs 2 ranks";
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  if (world_rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    // The late rank joins with the nonblocking form too: Open MPI 4.1 left an MPI_Ibarrier
    // unmatched by a blocking MPI_Barrier here.
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Ibarrier(comm, &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  } else {
    const auto start = std::chrono::steady_clock::now();
    try {
      discover_job(comm, std::nullopt, TopologySource{}.network, std::chrono::seconds(1));
      ADD_FAILURE() << "expected a JobFailure";
    } catch (const JobFailure& e) {
      EXPECT_NE(std::string(e.what()).find("topology discovery: the ranks meeting to split by node timed out after 1 s"),
                std::string::npos)
          << e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.9);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace spmd::launcher

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  // One report, from rank 0; every rank's exit code still counts for mpirun.
  if (spmd::launcher::world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  MPI_Finalize();
  return failed;
}
