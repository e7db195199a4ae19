// The peer watch under mpirun (1 to 3 ranks): every rank joins it, and while every rank
// runs none is taken for lost, whether its peers run or leave. (A rank really lost, killed
// under mpirun, is the spmd command's test: tests/tools/checkpoint_test.cpp, LostPeer; a
// loss between processes without MPI is peer_watch_test.cpp's.)
#include <gtest/gtest.h>

#include "launcher/peer_watch.h"
#include "launcher/world.h"

namespace spmd::launcher {
namespace {

TEST(PeerWatch, EveryRankJoinsAndNoneIsLostWhileEveryRankRuns) {
  World world;
  std::unique_ptr<PeerWatch> watch = PeerWatch::join(world);
  ASSERT_NE(watch, nullptr);
  world.all_gather(0, "every rank watched");
  PeerWatch::Lost lost[4];
  EXPECT_EQ(watch->lost(lost, 4), 0u);
  if (world.rank() % 2 == 1) watch->mark_leaving();
  world.all_gather(0, "every rank marked");
  EXPECT_EQ(watch->lost(lost, 4, 0.1), 0u);
  world.all_gather(0, "every rank read its watch");
}

}  // namespace
}  // namespace spmd::launcher
