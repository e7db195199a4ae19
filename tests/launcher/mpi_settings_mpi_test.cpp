// Open MPI's collective settings read through MPI_T, under mpirun: the coll framework's
// priorities are there, the same on every rank, and reading them leaves MPI's thread level
// as it was (Open MPI's MPI_T_init_thread sets it: asked for SINGLE, a job's communication
// thread was turned off).
#include <gtest/gtest.h>
#include <mpi.h>

#include "launcher/mpi_settings.h"
#include "launcher/world.h"

namespace spmd::launcher {
namespace {

TEST(MpiCollectiveSettings, NameTheCollPrioritiesAndLeaveTheThreadLevel) {
  int before = MPI_THREAD_SINGLE, after = MPI_THREAD_SINGLE;
  MPI_Query_thread(&before);
  const std::map<std::string, std::string> settings = mpi_collective_settings();
  MPI_Query_thread(&after);
  EXPECT_EQ(after, before);
  ASSERT_TRUE(settings.count("coll_tuned_priority")) << "Open MPI's coll framework";
  EXPECT_TRUE(settings.count("coll_han_priority"));
  for (const auto& [name, value] : settings) {
    EXPECT_EQ(name.rfind("coll", 0), 0u) << name;
  }
  EXPECT_EQ(mpi_collective_settings(), settings) << "read again, the same";
}

}  // namespace
}  // namespace spmd::launcher
