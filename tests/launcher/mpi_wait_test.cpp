// node_oversubscribed's rule (launcher/mpi_wait.h): when a node's ranks take turns on its
// CPUs, said by Open MPI's flag or by the launcher's count of ranks on the node.
#include "launcher/mpi_wait.h"

#include <gtest/gtest.h>

namespace spmd::launcher {
namespace {

TEST(RanksOutnumberCpus, OpenMpisOversubscribeFlagSaysSoWhateverTheCounts) {
  EXPECT_TRUE(ranks_outnumber_cpus("1", 0, 2));
  EXPECT_TRUE(ranks_outnumber_cpus("1", 2, 16));
  EXPECT_FALSE(ranks_outnumber_cpus("0", 2, 2));
}

// A hostfile may give a node more slots than cores: Open MPI then sets no flag, and the
// count of ranks it started there is what tells.
TEST(RanksOutnumberCpus, MoreRanksOnTheNodeThanCpusTakeTurns) {
  EXPECT_TRUE(ranks_outnumber_cpus(nullptr, 3, 2));
  EXPECT_FALSE(ranks_outnumber_cpus(nullptr, 2, 2));
  EXPECT_FALSE(ranks_outnumber_cpus(nullptr, 1, 2));
}

TEST(RanksOutnumberCpus, UnknownCountsSayNo) {
  EXPECT_FALSE(ranks_outnumber_cpus(nullptr, 0, 2));   // no launcher's count
  EXPECT_FALSE(ranks_outnumber_cpus(nullptr, 8, 0));   // CPUs unknown
}

}  // namespace
}  // namespace spmd::launcher
