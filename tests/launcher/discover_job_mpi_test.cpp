// discover_job under mpirun (1 to 4 ranks): one leaf per rank, the same tree on every rank,
// and a failure on one rank reported on all of them.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
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
