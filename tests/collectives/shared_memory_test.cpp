// The shared-memory algorithms over buffers in node-shared memory (allocate_node_shared):
// each primitive equals the locally computed result at every count, the buffers really are
// reached directly (peer_addresses), on a split group too; and where one rank's buffer is
// private memory every rank falls back to messages and still gets the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "collectives/primitives.h"
#include "expected_values.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

constexpr ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::max};

// `values` copied into a buffer of node-shared memory of `comm`.
CommBuffer shared_copy(Communicator& comm, std::span<const float> values) {
  CommBuffer b = comm.allocate_node_shared(values.size());
  if (!values.empty()) std::memcpy(b.get(), values.data(), values.size() * sizeof(float));
  return b;
}

using SharedMemoryTest = MpiTest;

TEST_F(SharedMemoryTest, PeersReachEveryRanksBufferWhereAllLieInNodeSharedMemory) {
  CommBuffer a = comm().allocate_node_shared(100), b = comm().allocate_node_shared(10);
  std::fill_n(a.get(), 100, static_cast<float>(rank()));
  const std::span<const float> both[] = {{a.get(), 100}, {b.get(), 10}};
  const std::vector<float*> peers = comm().peer_addresses(both);
  ASSERT_EQ(static_cast<int>(peers.size()), 2 * size());
  for (int r = 0; r < size(); ++r) {
    ASSERT_NE(peers[2 * r], nullptr);
    ASSERT_NE(peers[2 * r + 1], nullptr);
    EXPECT_EQ(peers[2 * r][99], static_cast<float>(r)) << "rank " << r << "'s buffer, seen from rank " << rank();
  }
  EXPECT_EQ(peers[2 * rank()], a.get());
  comm().barrier();
}

TEST_F(SharedMemoryTest, NoRankReachesPeersWhereOneBufferIsPrivate) {
  CommBuffer shared = comm().allocate_node_shared(16);
  std::vector<float> own(16);
  const bool last = rank() == size() - 1;
  const std::span<const float> one[] = {last ? std::span<const float>(own) : std::span<const float>(shared.get(), 16)};
  EXPECT_TRUE(comm().peer_addresses(one).empty());
}

TEST_F(SharedMemoryTest, EveryPrimitiveMatchesTheLocalResult) {
  for (int64_t n : test_counts(size())) {
    const Partition cut = partition(n, size());
    for (ReduceOp op : kOps) {
      SCOPED_TRACE(::testing::Message() << n << " elements, " << op_name(op));
      const std::vector<float> in = inputs(rank(), n), want = reduced(size(), n, op);
      CommBuffer data = shared_copy(comm(), in);
      all_reduce(comm(), {data.get(), static_cast<size_t>(n)}, op, Algorithm::shared_memory);
      expect_elements({data.get(), static_cast<size_t>(n)}, want);

      CommBuffer scatter_in = shared_copy(comm(), in), out = comm().allocate_node_shared(cut.count(rank()));
      reduce_scatter(comm(), {scatter_in.get(), static_cast<size_t>(n)}, {out.get(), static_cast<size_t>(cut.count(rank()))},
                     op, Algorithm::shared_memory);
      expect_elements({out.get(), static_cast<size_t>(cut.count(rank()))},
                      std::span(want).subspan(cut.offset(rank()), cut.count(rank())));
    }
    SCOPED_TRACE(::testing::Message() << n << " elements");
    std::vector<float> whole(n);
    for (int owner = 0; owner < size(); ++owner) {
      for (int64_t i = cut.offset(owner); i < cut.offset(owner) + cut.count(owner); ++i) whole[i] = input_value(owner, i);
    }
    CommBuffer block = shared_copy(comm(), std::span(whole).subspan(cut.offset(rank()), cut.count(rank())));
    CommBuffer gathered = comm().allocate_node_shared(n);
    all_gather(comm(), {block.get(), static_cast<size_t>(cut.count(rank()))}, {gathered.get(), static_cast<size_t>(n)},
               Algorithm::shared_memory);
    expect_elements({gathered.get(), static_cast<size_t>(n)}, whole);

    const int root = size() - 1;
    CommBuffer cast = shared_copy(comm(), inputs(rank(), n));
    broadcast(comm(), {cast.get(), static_cast<size_t>(n)}, root, Algorithm::shared_memory);
    expect_elements({cast.get(), static_cast<size_t>(n)}, inputs(root, n));

    const int64_t m = n - n % size(), b = m / size();
    CommBuffer sent = shared_copy(comm(), inputs(rank(), m)), received = comm().allocate_node_shared(m);
    all_to_all(comm(), {sent.get(), static_cast<size_t>(m)}, {received.get(), static_cast<size_t>(m)}, Algorithm::shared_memory);
    for (int from = 0; from < size(); ++from) {
      const std::vector<float> theirs = inputs(from, m);
      expect_elements({received.get() + from * b, static_cast<size_t>(b)}, std::span(theirs).subspan(rank() * b, b));
    }
  }
}

TEST_F(SharedMemoryTest, AllReduceFallsBackToMessagesWhereOneBufferIsPrivate) {
  const int64_t n = 4099;
  const std::vector<float> in = inputs(rank(), n);
  CommBuffer shared = shared_copy(comm(), in);
  std::vector<float> own = in;
  std::span<float> data = rank() == 0 ? std::span<float>(own) : std::span<float>(shared.get(), n);
  all_reduce(comm(), data, ReduceOp::sum, Algorithm::shared_memory);
  expect_elements(data, reduced(size(), n, ReduceOp::sum));
}

TEST_F(SharedMemoryTest, SplitGroupReachesBuffersOfTheWholeGroupsMemory) {
  // Even and odd ranks, each half all-reducing buffers the whole group made.
  std::unique_ptr<Communicator> half = comm().split(rank() % 2, rank());
  const int64_t n = 1000;
  CommBuffer data = shared_copy(comm(), inputs(half->rank(), n));
  const std::span<const float> one[] = {{data.get(), static_cast<size_t>(n)}};
  EXPECT_EQ(half->peer_addresses(one).size(), static_cast<size_t>(half->size()));
  all_reduce(*half, {data.get(), static_cast<size_t>(n)}, ReduceOp::sum, Algorithm::shared_memory);
  expect_elements({data.get(), static_cast<size_t>(n)}, reduced(half->size(), n, ReduceOp::sum));
}

// A buffer of `blocks` blocks, each cut into pieces of 3, 0 and 5 floats with gaps between
// them, in node-shared memory: block b's pieces.
struct PiecesBuffer {
  PiecesBuffer(Communicator& comm, int blocks) : memory(comm.allocate_node_shared(16 * blocks)) {
    for (int b = 0; b < blocks; ++b) {
      float* at = memory.get() + 16 * b;
      cut.push_back({{at, 3}, {at + 4, 0}, {at + 8, 5}});
    }
  }
  CommBuffer memory;
  std::vector<Pieces> cut;
};

TEST_F(SharedMemoryTest, PiecesAreGatheredAndReducedWhereTheyLie) {
  const int p = size();
  PiecesBuffer data(comm(), p), out(comm(), 1), gathered(comm(), p);
  for (int b = 0; b < p; ++b) {
    for (std::span<float> piece : data.cut[b]) {
      const int64_t at = piece.data() - data.memory.get();  // the value of its place in the buffer
      for (std::size_t i = 0; i < piece.size(); ++i) piece[i] = input_value(rank(), at + static_cast<int64_t>(i));
    }
  }
  reduce_scatter_pieces(comm(), data.cut, out.cut[0], ReduceOp::sum, Algorithm::shared_memory);
  for (std::size_t j = 0; j < out.cut[0].size(); ++j) {
    const std::span<float> got = out.cut[0][j];
    const std::size_t at = data.cut[rank()][j].data() - data.memory.get();
    for (std::size_t i = 0; i < got.size(); ++i) {
      float want = 0;
      for (int r = 0; r < p; ++r) want += input_value(r, static_cast<int64_t>(at + i));
      EXPECT_EQ(got[i], want) << "piece " << j << " element " << i;
    }
  }
  all_gather_pieces(comm(), out.cut[0], gathered.cut, Algorithm::shared_memory);
  for (int b = 0; b < p; ++b) {
    for (std::size_t j = 0; j < gathered.cut[b].size(); ++j) {
      for (std::size_t i = 0; i < gathered.cut[b][j].size(); ++i) {
        float want = 0;
        for (int r = 0; r < p; ++r) want += input_value(r, static_cast<int64_t>(16 * b + (j == 2 ? 8 : 4 * j) + i));
        EXPECT_EQ(gathered.cut[b][j][i], want) << "block " << b << " piece " << j;
      }
    }
  }
}

}  // namespace
}  // namespace spmd::collectives::testing
