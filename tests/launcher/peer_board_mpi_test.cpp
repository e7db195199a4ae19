// The ranks' shared board under mpirun (1 to 3 ranks): while every rank runs, none is taken
// for lost, whether its peers run, stop or are done. (A rank really lost, killed under
// mpirun, is the spmd command's test: tests/tools/checkpoint_test.cpp, LostPeer.)
#include <gtest/gtest.h>

#include "launcher/peer_board.h"
#include "launcher/world.h"

namespace spmd::launcher {
namespace {

TEST(PeerBoard, NoRankIsLostWhileEveryRankRuns) {
  World world;
  PeerBoard board(world);
  world.all_gather(0, "every rank on the board");
  PeerBoard::Lost lost[4];
  EXPECT_EQ(board.lost(lost, 4), 0u);
  if (world.rank() % 2 == 1) board.mark_stopping();
  if (world.rank() == 2) board.mark_done();
  world.all_gather(0, "every rank marked");
  EXPECT_EQ(board.lost(lost, 4), 0u);
  world.all_gather(0, "every rank read the board");
}

}  // namespace
}  // namespace spmd::launcher
