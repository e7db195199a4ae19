// all_gather_pieces and reduce_scatter_pieces (collectives/algorithms/pieces.h): a flat
// buffer whose blocks lie in pieces, each in a buffer of its own, must end as the flat
// primitive leaves it, with every algorithm (the ring over the pieces, the others over a
// packed copy), for pieces packed into one message, sent alone, and cut into segments.
#include <gtest/gtest.h>

#include "collectives/algorithms/pieces.h"
#include "common/error.h"
#include "expected_values.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

std::string algorithm_name(const ::testing::TestParamInfo<Algorithm>& info) { return to_string(info.param); }

// A member's block of each size: empty, packed together, at the packing bound, and one a
// reducing receive takes in two segments.
const std::vector<size_t> kPieceFloats = {0, 3, algorithms::kPackedFloats - 1, algorithms::kPackedFloats, 1,
                                          algorithms::kSegmentFloats + 5};

size_t block_floats() {
  size_t n = 0;
  for (size_t f : kPieceFloats) n += f;
  return n;
}

// `count` blocks, each of kPieceFloats's pieces, every piece a buffer of its own.
struct Blocks {
  std::vector<std::vector<float>> storage;
  std::vector<Pieces> blocks;
  explicit Blocks(int count) {
    for (int b = 0; b < count; ++b) {
      Pieces block;
      for (size_t f : kPieceFloats) {
        storage.emplace_back(f, -1.0f);
        block.push_back(storage.back());
      }
      blocks.push_back(std::move(block));
    }
  }
  // The flat buffer: block 0's pieces, then block 1's, ...
  std::vector<float> flat() const {
    std::vector<float> out;
    for (const Pieces& b : blocks)
      for (std::span<float> piece : b) out.insert(out.end(), piece.begin(), piece.end());
    return out;
  }
  void fill(std::span<const float> flat) {
    for (const Pieces& b : blocks)
      for (std::span<float> piece : b) {
        std::copy_n(flat.begin(), piece.size(), piece.begin());
        flat = flat.subspan(piece.size());
      }
  }
};

using AllGatherPiecesTest = MpiParamTest<Algorithm>;
TEST_P(AllGatherPiecesTest, EveryRankGetsEveryBlockInItsPieces) {
  const size_t n = block_floats();
  Blocks in(1), out(size());
  in.fill(inputs(rank(), static_cast<int64_t>(n)));
  all_gather_pieces(comm(), in.blocks[0], out.blocks, GetParam());
  std::vector<float> want;
  for (int b = 0; b < size(); ++b) {
    const std::vector<float> block = inputs(b, static_cast<int64_t>(n));
    want.insert(want.end(), block.begin(), block.end());
  }
  expect_elements(out.flat(), want);
  expect_elements(in.flat(), inputs(rank(), static_cast<int64_t>(n)));  // read, not written
}
INSTANTIATE_TEST_SUITE_P(Algorithms, AllGatherPiecesTest, ::testing::ValuesIn(algorithms_of("all_gather")),
                         algorithm_name);

using ReduceScatterPiecesTest = MpiParamTest<Algorithm>;
TEST_P(ReduceScatterPiecesTest, EachRankGetsItsBlockOfTheReductionInItsPieces) {
  const size_t n = block_floats();
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::max}) {
    SCOPED_TRACE(op_name(op));
    Blocks data(size()), out(1);
    data.fill(inputs(rank(), static_cast<int64_t>(n) * size()));
    reduce_scatter_pieces(comm(), data.blocks, out.blocks[0], op, GetParam());
    const std::vector<float> all = reduced(size(), static_cast<int64_t>(n) * size(), op);
    expect_elements(out.flat(), std::span(all).subspan(rank() * n, n));
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, ReduceScatterPiecesTest,
                         ::testing::ValuesIn(algorithms_of("reduce_scatter")), algorithm_name);

TEST_F(MpiTest, BlocksCutUnlikeEachOtherAreRefusedBeforeAnyTransfer) {
  Blocks in(1), out(size());
  out.blocks.back().pop_back();
  try {
    all_gather_pieces(comm(), in.blocks[0], out.blocks, Algorithm::ring);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not cut into pieces of the sizes of the others"), std::string::npos)
        << e.what();
  }
}

TEST(PacksPieces, OnlyTheRingScatteredAndOnTwoRanksAnyOfOursRunWhereThePiecesLie) {
  EXPECT_FALSE(packs_pieces(Algorithm::ring, 4));
  EXPECT_FALSE(packs_pieces(Algorithm::scattered, 4));
  EXPECT_FALSE(packs_pieces(Algorithm::scattered, 3));
  EXPECT_TRUE(packs_pieces(Algorithm::recursive_doubling, 4));
  EXPECT_FALSE(packs_pieces(Algorithm::recursive_doubling, 2));
  EXPECT_FALSE(packs_pieces(Algorithm::recursive_halving_doubling, 2));
  EXPECT_TRUE(packs_pieces(Algorithm::native, 2));
}

}  // namespace
}  // namespace spmd::collectives::testing
