// A communicator's host scratch is kept and handed out again: once warm, a collective
// allocates nothing (fresh pages fault in one by one and cost more than the transfer).
#include <gtest/gtest.h>

#include "collectives/algorithms/segmented.h"
#include "collectives/primitives.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

using ScratchPoolTest = MpiTest;

TEST_F(ScratchPoolTest, ABufferGivenBackIsHandedOutAgain) {
  float* first = nullptr;
  {
    CommBuffer a = comm().allocate(100000);
    first = a.get();
    a[99999] = 1.0f;  // usable to its last float
  }
  CommBuffer again = comm().allocate(50000);  // the spare holds it
  EXPECT_EQ(again.get(), first);
  CommBuffer larger = comm().allocate(200000);  // none holds it: a new one
  EXPECT_NE(larger.get(), first);
}

TEST_F(ScratchPoolTest, BuffersLentAtOnceAreDistinct) {
  CommBuffer a = comm().allocate(1000), b = comm().allocate(1000);
  EXPECT_NE(a.get(), b.get());
  float* pa = a.get();
  a.reset();
  CommBuffer c = comm().allocate(10);  // the smallest spare that holds it
  EXPECT_EQ(c.get(), pa);
}

// The scattered reduce-scatter takes its arrivals a segment of each peer's at a time, flat or
// in pieces: scratch for p - 1 segments stays in the pool, not for p - 1 blocks (a 64 MiB
// reduce-scatter on 4 ranks kept 48 MiB so).
TEST_F(ScratchPoolTest, AScatteredReduceScatterKeepsScratchForASegmentOfEachPeers) {
  const std::size_t segment = algorithms::kSegmentFloats, block = 4 * segment;
  const std::size_t most = segment * static_cast<std::size_t>(size() - 1);
  std::vector<float> data(block * size(), 1.0f), out(block);
  reduce_scatter(comm(), data, out, ReduceOp::sum, Algorithm::scattered);
  EXPECT_EQ(out.front(), static_cast<float>(size()));
  EXPECT_EQ(out.back(), static_cast<float>(size()));
  EXPECT_LE(comm().pooled_floats(), most);

  std::vector<std::vector<float>> members(size(), std::vector<float>(block, 2.0f));
  std::vector<Pieces> blocks;
  for (std::vector<float>& m : members) blocks.push_back({m});
  reduce_scatter_pieces(comm(), blocks, {out}, ReduceOp::sum, Algorithm::scattered);
  EXPECT_EQ(out.front(), 2.0f * size());
  EXPECT_EQ(out.back(), 2.0f * size());
  EXPECT_LE(comm().pooled_floats(), most);
}

}  // namespace
}  // namespace spmd::collectives::testing
