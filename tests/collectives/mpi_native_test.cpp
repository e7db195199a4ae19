// The MPI backend's own collectives (collectives/mpi/mpi_native.cpp): what a profile records
// of how they ran, so that a profile that timed them otherwise is told apart.
#include <gtest/gtest.h>

#include "collectives/mpi/mpi_communicator.h"

namespace spmd::collectives {
namespace {

TEST(NativeCollectiveSettings, SayMpisOwnRunBlockingBesideOpenMpisCollSettings) {
  const std::map<std::string, std::string> settings = native_collective_settings();
  ASSERT_TRUE(settings.count("coll_tuned_priority")) << "Open MPI's coll framework";
  ASSERT_TRUE(settings.count("spmd_native_collectives"));
  EXPECT_EQ(settings.at("spmd_native_collectives"), "blocking");
}

}  // namespace
}  // namespace spmd::collectives
