// Collectives over node-shared memory (Communicator::allocate_node_shared): every rank loads
// its peers' buffers and stores into them directly, with no message. The ranks meet twice:
// to say where the buffers lie (peer_addresses, which also means every rank has come) and
// at a barrier at the end, after which the buffers are their owners' again (the MPI
// backend meets through flags in node-shared memory: mpi/node_flags.h). An all-reduce is then one
// pass: each rank reduces its block of every rank's buffer and stores the result into every
// rank's, on 2 ranks 2n bytes loaded and n stored a rank against 3.5n and 2.5n for the
// ring's copies (16 MiB in 0.72-0.76 ms here against 1.8-2.2 ms for MPI_Allreduce), as
// shared-memory collectives do (Graham and Shipman, "MPI Support for Multi-core
// Architectures", 2008; NCCL's and DeepSpeed's single-node all-reduce). Where any rank's
// buffer is not in node-shared memory (or the group spans nodes), each falls back to the
// ring (pairwise for all-to-all, binomial tree for broadcast), the same on every rank.
// Small collectives stage instead (the eager protocol of MPI libraries' shared-memory
// transports; NCCL's LL): each rank copies its data into a node-shared staging area and the
// ranks meet once (Communicator::arrive_staged), then each loads what it needs of every
// rank's copy; a broadcast's root does not wait at all. One meeting instead of two, and any
// buffer, private or not. Where ranks take turns on cores each meeting is a turn of every
// rank: on 4 ranks over 2 cores, 4 KiB in 4.6-6.7 us against 5.9-11.3 us direct (and
// 6.5-15.2 us for MPI's own); on 2 ranks with a core each, where meeting costs 0.2 us and
// the copy in more, about the same at 4 KiB and slower from 16 KiB, hence kStagedFloats.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/combine.h"
#include "collectives/algorithms/pieces.h"
#include "collectives/primitives.h"
#include "launcher/mpi_wait.h"

namespace spmd::collectives::algorithms {
namespace {

// Floats reduced at once: an accumulator that stays in L1 while every rank's part of it
// is loaded, so memory sees each rank's block once.
constexpr std::size_t kChunk = 2048;

// This rank's staging area of `floats` floats, where they are at most kStagedFloats and the
// group has one; empty otherwise. The same answer on every rank: the sizes passed are the
// group's, not the rank's.
std::span<float> staging_for(Communicator& comm, std::size_t floats) {
  if (floats == 0 || floats > kStagedFloats) return {};
  const std::span<float> stage = comm.staging();
  return stage.size() >= floats ? stage.first(floats) : std::span<float>();
}

// Where every rank has `buffer` (peer_addresses of one), one address per rank.
std::vector<float*> peers_of(Communicator& comm, std::span<const float> buffer) {
  const std::span<const float> one[] = {buffer};
  return comm.peer_addresses(one);
}

// out[0, n) = the reduction of from[k][0, n) over the ranks k in order, chunk by chunk: the
// same order for every block, so every rank's copy of a result has the same bits. `out`
// may be one of `from` (each chunk is loaded whole before it is stored).
void reduce_into(const std::vector<const float*>& from, std::size_t n, ReduceOp op, float* out) {
  std::array<float, kChunk> acc;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t c = std::min(kChunk, n - at);
    std::memcpy(acc.data(), from[0] + at, c * sizeof(float));
    for (std::size_t k = 1; k < from.size(); ++k) combine({acc.data(), c}, {from[k] + at, c}, op);
    std::memcpy(out + at, acc.data(), c * sizeof(float));
  }
}

// The 2-rank all-reduce's block in one loop: loads both, stores both.
void reduce_pair(float* __restrict a, float* __restrict b, std::size_t n, ReduceOp op) {
  if (op == ReduceOp::sum) {
    for (std::size_t i = 0; i < n; ++i) a[i] = b[i] = a[i] + b[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) a[i] = b[i] = a[i] < b[i] ? b[i] : a[i];
  }
}

// The addresses `at` (one per rank), each advanced by `offset` floats.
template <class Float>
std::vector<const float*> shifted(const std::vector<Float*>& at, std::size_t offset) {
  std::vector<const float*> from;
  for (const float* p : at) from.push_back(p + offset);
  return from;
}

// The ranks whose blocks this rank copies, in the order it copies them. Where each rank has
// a core to itself: its peers from the next rank on, its own last, so that every rank reads
// another's buffer at once rather than all of them rank 0's first (the rotated order of
// pairwise exchanges: Thakur, Rabenseifner and Gropp, "Optimization of Collective
// Communication Operations in MPICH", 2005); on 2 ranks here an all-gather of 4 MiB took
// 356-373 us so, against 414-436 us in rank order. Where ranks take turns on the cores
// (launcher::node_oversubscribed), in rank order: a rank that runs after another on its
// core finds the blocks that one read still in the core's cache (on 3 ranks over 2 cores
// the rotated all-gather of 1-16 MiB took 7-10% longer).
std::vector<std::size_t> copy_order(const Communicator& comm) {
  const auto p = static_cast<std::size_t>(comm.size()), me = static_cast<std::size_t>(comm.rank());
  const std::size_t first = launcher::node_oversubscribed() ? 0 : me + 1;
  std::vector<std::size_t> order;
  for (std::size_t j = 0; j < p; ++j) order.push_back((first + j) % p);
  return order;
}

}  // namespace

void shared_memory_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op) {
  const std::size_t n = data.size();
  if (const std::span<float> stage = staging_for(comm, n); !stage.empty()) {
    std::memcpy(stage.data(), data.data(), n * sizeof(float));
    reduce_into(comm.arrive_staged(Communicator::kEveryRank), n, op, data.data());
    return;
  }
  const std::vector<float*> peers = peers_of(comm, data);
  if (peers.empty()) return ring_all_reduce(comm, data, op);
  const Partition cut = partition(static_cast<int64_t>(data.size()), comm.size());
  const auto begin = static_cast<std::size_t>(cut.offset(comm.rank()));
  const auto count = static_cast<std::size_t>(cut.count(comm.rank()));
  if (count > 0 && peers.size() == 2) {
    reduce_pair(peers[0] + begin, peers[1] + begin, count, op);
  } else if (count > 0) {
    float* mine = peers[static_cast<std::size_t>(comm.rank())] + begin;
    reduce_into(shifted(peers, begin), count, op, mine);
    for (float* peer : peers) {
      if (peer + begin != mine) std::memcpy(peer + begin, mine, count * sizeof(float));
    }
  }
  comm.barrier();
}

void shared_memory_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op) {
  const auto begin = static_cast<std::size_t>(partition(static_cast<int64_t>(data.size()), comm.size()).offset(comm.rank()));
  if (const std::span<float> stage = staging_for(comm, data.size()); !stage.empty()) {
    std::memcpy(stage.data(), data.data(), data.size() * sizeof(float));
    const std::vector<const float*> staged = comm.arrive_staged(Communicator::kEveryRank);
    if (!out.empty()) reduce_into(shifted(staged, begin), out.size(), op, out.data());
    return;
  }
  const std::vector<float*> peers = peers_of(comm, data);
  if (peers.empty()) return ring_reduce_scatter(comm, data, out, op);
  if (!out.empty()) reduce_into(shifted(peers, begin), out.size(), op, out.data());
  comm.barrier();
}

void shared_memory_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const Partition cut = partition(static_cast<int64_t>(out.size()), comm.size());
  const auto largest = static_cast<std::size_t>(cut.count(0));  // the first blocks are the larger
  if (const std::span<float> stage = staging_for(comm, largest); !stage.empty()) {
    if (!in.empty()) std::memcpy(stage.data(), in.data(), in.size() * sizeof(float));  // before `out`, which may hold it
    const std::vector<const float*> staged = comm.arrive_staged(Communicator::kEveryRank);
    for (int k = 0; k < comm.size(); ++k) {
      const auto n = static_cast<std::size_t>(cut.count(k));
      if (n > 0) std::memcpy(out.data() + cut.offset(k), staged[static_cast<std::size_t>(k)], n * sizeof(float));
    }
    return;
  }
  const std::vector<float*> peers = peers_of(comm, in);
  if (peers.empty()) return ring_all_gather(comm, in, out);
  for (const std::size_t k : copy_order(comm)) {
    const auto n = static_cast<std::size_t>(cut.count(static_cast<int>(k)));
    // memmove: this rank's own block may lie inside its output, where it belongs (no other
    // block is copied over it).
    if (n > 0) std::memmove(out.data() + cut.offset(static_cast<int>(k)), peers[k], n * sizeof(float));
  }
  comm.barrier();
}

void shared_memory_broadcast(Communicator& comm, std::span<float> data, int root) {
  if (const std::span<float> stage = staging_for(comm, data.size()); !stage.empty()) {
    if (comm.rank() == root) std::memcpy(stage.data(), data.data(), data.size() * sizeof(float));
    const std::vector<const float*> staged = comm.arrive_staged(root);
    if (comm.rank() != root) std::memcpy(data.data(), staged[static_cast<std::size_t>(root)], data.size() * sizeof(float));
    return;
  }
  const std::vector<float*> peers = peers_of(comm, data);
  if (peers.empty()) return binomial_tree_broadcast(comm, data, root);
  if (comm.rank() != root && !data.empty()) {
    std::memcpy(data.data(), peers[static_cast<std::size_t>(root)], data.size() * sizeof(float));
  }
  comm.barrier();
}

void shared_memory_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const std::size_t block = in.size() / static_cast<std::size_t>(comm.size());
  const std::size_t mine = block * static_cast<std::size_t>(comm.rank());
  if (const std::span<float> stage = staging_for(comm, in.size()); !stage.empty()) {
    std::memcpy(stage.data(), in.data(), in.size() * sizeof(float));
    const std::vector<const float*> staged = comm.arrive_staged(Communicator::kEveryRank);
    for (std::size_t k = 0; k < staged.size(); ++k) {
      if (block > 0) std::memcpy(out.data() + k * block, staged[k] + mine, block * sizeof(float));
    }
    return;
  }
  const std::vector<float*> peers = peers_of(comm, in);
  if (peers.empty()) return pairwise_all_to_all(comm, in, out);
  for (const std::size_t k : copy_order(comm)) {
    if (block > 0) std::memcpy(out.data() + k * block, peers[k] + mine, block * sizeof(float));
  }
  comm.barrier();
}

void shared_memory_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out) {
  std::vector<std::span<const float>> mine(in.begin(), in.end());
  const std::vector<float*> peers = comm.peer_addresses(mine);
  if (peers.empty()) return ring_all_gather_pieces(comm, in, out);
  const std::size_t m = in.size();
  for (const std::size_t k : copy_order(comm)) {
    for (std::size_t i = 0; i < m; ++i) {
      if (!out[k][i].empty()) std::memmove(out[k][i].data(), peers[k * m + i], out[k][i].size() * sizeof(float));
    }
  }
  comm.barrier();
}

void shared_memory_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out,
                                         ReduceOp op) {
  // Every rank's every block's pieces, block by block: rank k's piece i of block b is
  // element k * p * m + b * m + i.
  std::vector<std::span<const float>> mine;
  for (const Pieces& block : data) mine.insert(mine.end(), block.begin(), block.end());
  const std::vector<float*> peers = comm.peer_addresses(mine);
  if (peers.empty()) return ring_reduce_scatter_pieces(comm, data, out, op);
  const std::size_t m = out.size(), p = data.size(), b = static_cast<std::size_t>(comm.rank());
  for (std::size_t i = 0; i < m; ++i) {
    if (out[i].empty()) continue;
    std::vector<const float*> from;
    for (std::size_t k = 0; k < p; ++k) from.push_back(peers[k * p * m + b * m + i]);
    reduce_into(from, out[i].size(), op, out[i].data());
  }
  comm.barrier();
}

}  // namespace spmd::collectives::algorithms
