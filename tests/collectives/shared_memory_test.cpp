// The shared-memory algorithms over buffers in node-shared memory (allocate_node_shared):
// each primitive equals the locally computed result at every count, the buffers really are
// reached directly (peer_addresses), on a split group too; and where one rank's buffer is
// private memory every rank falls back to messages and still gets the result. Small ones
// stage (Communicator::staging), on any buffer, with no message.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "collectives/algorithms/algorithms.h"
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

// Forwards to `inner`, counting the messages, the calls for where buffers lie and the staged
// arrivals: what tells the protocols apart.
class CountingCommunicator : public Communicator {
 public:
  explicit CountingCommunicator(Communicator& inner) : inner_(inner) { set_timeout(inner.timeout()); }
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::string backend() const override { return inner_.backend(); }
  void send(std::span<const float> data, int dest) override { ++messages, inner_.send(data, dest); }
  void recv(std::span<float> data, int source) override { ++messages, inner_.recv(data, source); }
  void sendrecv(std::span<const float> send, int dest, std::span<float> recv, int source) override {
    ++messages, inner_.sendrecv(send, dest, recv, source);
  }
  std::unique_ptr<Communicator> split(int color, int key) const override { return inner_.split(color, key); }
  void native_all_reduce(std::span<float> d, ReduceOp op) override { inner_.native_all_reduce(d, op); }
  void native_reduce_scatter(std::span<const float> d, std::span<float> o, ReduceOp op) override {
    inner_.native_reduce_scatter(d, o, op);
  }
  void native_all_gather(std::span<const float> i, std::span<float> o) override { inner_.native_all_gather(i, o); }
  void native_broadcast(std::span<float> d, int root) override { inner_.native_broadcast(d, root); }
  void native_reduce(std::span<float> d, int root, ReduceOp op) override { inner_.native_reduce(d, root, op); }
  void native_all_to_all(std::span<const float> i, std::span<float> o) override { inner_.native_all_to_all(i, o); }
  std::vector<float*> peer_addresses(std::span<const std::span<const float>> spans) override {
    ++address_calls;
    return inner_.peer_addresses(spans);
  }
  void barrier() override { inner_.barrier(); }
  std::span<float> staging() override { return inner_.staging(); }
  std::vector<const float*> arrive_staged(int from) override {
    ++arrivals;
    return inner_.arrive_staged(from);
  }

  int messages = 0, address_calls = 0, arrivals = 0;

 private:
  Communicator& inner_;
};

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

// More places than the flags hold go through MPI's all-gather, with the same answer.
TEST_F(SharedMemoryTest, ManyPlacesAreGatheredThroughMpiAlike) {
  constexpr std::size_t kSpans = 300;
  CommBuffer a = comm().allocate_node_shared(kSpans);
  std::vector<std::span<const float>> spans;
  for (std::size_t i = 0; i < kSpans; ++i) {
    a.get()[i] = static_cast<float>(rank() * 1000 + static_cast<int>(i));
    spans.emplace_back(a.get() + i, 1);
  }
  const std::vector<float*> peers = comm().peer_addresses(spans);
  ASSERT_EQ(peers.size(), kSpans * static_cast<std::size_t>(size()));
  for (int r = 0; r < size(); ++r) {
    for (std::size_t i = 0; i < kSpans; i += 37) {
      ASSERT_NE(peers[r * kSpans + i], nullptr);
      EXPECT_EQ(*peers[r * kSpans + i], static_cast<float>(r * 1000 + static_cast<int>(i))) << "rank " << r << ", span " << i;
    }
  }
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
  const auto n = static_cast<int64_t>(algorithms::kStagedFloats) + 3;  // too large to stage
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

TEST_F(SharedMemoryTest, StagedAreasHoldEveryRanksValuesRoundAfterRoundWithoutABarrier) {
  // Each round one rank reads late: a peer that stored its next round into the area being
  // read would show here (the areas alternate, and a rank stores the next-but-one only
  // after every peer arrived at the next).
  for (int round = 0; round < 300; ++round) {
    const std::span<float> stage = comm().staging();
    ASSERT_GE(stage.size(), 4u);
    std::fill_n(stage.data(), 4, static_cast<float>(1000 * round + rank()));
    const std::vector<const float*> staged = comm().arrive_staged(Communicator::kEveryRank);
    ASSERT_EQ(static_cast<int>(staged.size()), size());
    if (round % size() == rank()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    for (int r = 0; r < size(); ++r) {
      for (int i = 0; i < 4; ++i) ASSERT_EQ(staged[r][i], static_cast<float>(1000 * round + r)) << "round " << round << ", rank " << r;
    }
  }
}

TEST_F(SharedMemoryTest, SmallCollectivesStageWhateverMemoryTheirBuffersLieIn) {
  // Private buffers, no message: the staged protocol needs neither peer_addresses nor a
  // fallback, so no rank sends anything (counted through a communicator that forwards).
  const int64_t n = 1000;
  CountingCommunicator counted(comm());
  std::vector<float> data = inputs(rank(), n);
  all_reduce(counted, data, ReduceOp::sum, Algorithm::shared_memory);
  expect_elements(data, reduced(size(), n, ReduceOp::sum));
  const int64_t m = n - n % size();
  std::vector<float> sent = inputs(rank(), m), received(static_cast<size_t>(m));
  all_to_all(counted, sent, received, Algorithm::shared_memory);
  std::vector<float> cast = inputs(rank(), n);
  broadcast(counted, cast, 0, Algorithm::shared_memory);
  expect_elements(cast, inputs(0, n));
  if (size() > 1) {
    EXPECT_EQ(counted.arrivals, 3);
    EXPECT_EQ(counted.messages, 0);
    EXPECT_EQ(counted.address_calls, 0);
  }
  // Too large to stage, on private buffers: where the buffers lie, then the ring.
  std::vector<float> large = inputs(rank(), static_cast<int64_t>(algorithms::kStagedFloats) + 1);
  all_reduce(counted, large, ReduceOp::sum, Algorithm::shared_memory);
  if (size() > 1) {
    EXPECT_EQ(counted.address_calls, 1);
    EXPECT_GT(counted.messages, 0);
  }
}

TEST_F(SharedMemoryTest, ASmallBroadcastsRootDoesNotWaitForItsReaders) {
  // The readers come a second late; the root, with half a second to wait, goes on, twice:
  // it stages its next broadcast in the other area.
  if (size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const int root = size() - 1;
  comm().barrier();  // every rank there while the flags are made
  for (int round = 0; round < 2; ++round) {
    std::vector<float> data(100, rank() == root ? static_cast<float>(round + 1) : 0.0f);
    if (rank() == root) {
      comm().set_timeout(std::chrono::milliseconds(500));
      broadcast(comm(), data, root, Algorithm::shared_memory);
      comm().set_timeout(std::chrono::seconds(30));
    } else {
      if (round == 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      broadcast(comm(), data, root, Algorithm::shared_memory);
    }
    EXPECT_EQ(data[99], static_cast<float>(round + 1));
  }
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
