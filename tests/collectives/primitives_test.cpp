// Every primitive with every algorithm (native included), for every count of test_counts()
// and both reductions, checked element by element against the locally computed result; and
// the point-to-point exchange they are built on.
#include <gtest/gtest.h>

#include "collectives/primitives.h"
#include "expected_values.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

std::string algorithm_name(const ::testing::TestParamInfo<Algorithm>& info) { return to_string(info.param); }

constexpr ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::max};

using AllReduceTest = MpiParamTest<Algorithm>;
TEST_P(AllReduceTest, MatchesLocalReduction) {
  for (int64_t n : test_counts(size())) {
    for (ReduceOp op : kOps) {
      SCOPED_TRACE(::testing::Message() << n << " elements, " << op_name(op));
      std::vector<float> data = inputs(rank(), n);
      all_reduce(comm(), data, op, GetParam());
      expect_elements(data, reduced(size(), n, op));
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, AllReduceTest, ::testing::ValuesIn(algorithms_of("all_reduce")),
                         algorithm_name);

using ReduceScatterTest = MpiParamTest<Algorithm>;
TEST_P(ReduceScatterTest, EachRankGetsItsBlockOfTheReduction) {
  for (int64_t n : test_counts(size())) {
    for (ReduceOp op : kOps) {
      SCOPED_TRACE(::testing::Message() << n << " elements, " << op_name(op));
      const Partition cut = partition(n, size());
      std::vector<float> data = inputs(rank(), n);
      std::vector<float> out(cut.count(rank()), -1.0f);
      reduce_scatter(comm(), data, out, op, GetParam());
      const std::vector<float> all = reduced(size(), n, op);
      expect_elements(out, std::span(all).subspan(cut.offset(rank()), cut.count(rank())));
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, ReduceScatterTest, ::testing::ValuesIn(algorithms_of("reduce_scatter")),
                         algorithm_name);

using AllGatherTest = MpiParamTest<Algorithm>;
TEST_P(AllGatherTest, EveryRankGetsEveryBlock) {
  for (int64_t n : test_counts(size())) {
    SCOPED_TRACE(::testing::Message() << n << " elements");
    const Partition cut = partition(n, size());
    std::vector<float> expected(n);
    for (int owner = 0; owner < size(); ++owner) {
      for (int64_t i = cut.offset(owner); i < cut.offset(owner) + cut.count(owner); ++i) {
        expected[i] = input_value(owner, i);
      }
    }
    const std::vector<float> in(expected.begin() + cut.offset(rank()),
                                expected.begin() + cut.offset(rank()) + cut.count(rank()));
    std::vector<float> out(n, -1.0f);
    all_gather(comm(), in, out, GetParam());
    expect_elements(out, expected);
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, AllGatherTest, ::testing::ValuesIn(algorithms_of("all_gather")),
                         algorithm_name);

using BroadcastTest = MpiParamTest<Algorithm>;
TEST_P(BroadcastTest, EveryRankGetsTheRootsData) {
  for (int root : {0, size() - 1, size() / 2}) {
    for (int64_t n : test_counts(size())) {
      SCOPED_TRACE(::testing::Message() << n << " elements from root " << root);
      std::vector<float> data = inputs(rank(), n);
      broadcast(comm(), data, root, GetParam());
      expect_elements(data, inputs(root, n));
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, BroadcastTest, ::testing::ValuesIn(algorithms_of("broadcast")),
                         algorithm_name);

using ReduceTest = MpiParamTest<Algorithm>;
TEST_P(ReduceTest, RootGetsTheReduction) {
  for (int root : {0, size() - 1, size() / 2}) {
    for (int64_t n : test_counts(size())) {
      for (ReduceOp op : kOps) {
        SCOPED_TRACE(::testing::Message() << n << " elements to root " << root << ", " << op_name(op));
        std::vector<float> data = inputs(rank(), n);
        reduce(comm(), data, root, op, GetParam());
        if (rank() == root) expect_elements(data, reduced(size(), n, op));
      }
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, ReduceTest, ::testing::ValuesIn(algorithms_of("reduce")), algorithm_name);

using AllToAllTest = MpiParamTest<Algorithm>;
TEST_P(AllToAllTest, BlockJOfRankIEndsAsBlockIOfRankJ) {
  for (int64_t block : test_counts(size())) {
    SCOPED_TRACE(::testing::Message() << block << " elements per block");
    const int64_t n = block * size();
    const std::vector<float> in = inputs(rank(), n);
    std::vector<float> out(n, -1.0f), expected(n);
    for (int source = 0; source < size(); ++source) {
      for (int64_t k = 0; k < block; ++k) expected[source * block + k] = input_value(source, rank() * block + k);
    }
    all_to_all(comm(), in, out, GetParam());
    expect_elements(out, expected);
  }
}
INSTANTIATE_TEST_SUITE_P(Algorithms, AllToAllTest, ::testing::ValuesIn(algorithms_of("all_to_all")),
                         algorithm_name);

// The local work given to sendrecv_while runs once, on this thread, and the exchange
// completes as sendrecv's does: what the all-gathers hide their own block's copy behind.
using PointToPointTest = MpiTest;
TEST_F(PointToPointTest, SendrecvWhileRunsTheLocalWorkOnceAndExchanges) {
  const int next = (rank() + 1) % size(), prev = (rank() + size() - 1) % size();
  for (int64_t n : test_counts(size())) {
    SCOPED_TRACE(::testing::Message() << n << " elements");
    const std::vector<float> mine = inputs(rank(), n);
    std::vector<float> received(n, -1.0f), copied(n, -1.0f);
    int runs = 0;
    comm().sendrecv_while(mine, next, received, prev, [&] {
      ++runs;
      copied = mine;
    });
    EXPECT_EQ(runs, 1);
    expect_elements(received, inputs(prev, n));
    expect_elements(copied, mine);
  }
}

}  // namespace
}  // namespace spmd::collectives::testing
