// Broadcast (Thakur, Rabenseifner and Gropp 2005, sec. 4.1), and the pipelined chain.
#include <algorithm>
#include <vector>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/ring.h"
#include "collectives/algorithms/segmented.h"

namespace spmd::collectives::algorithms {

// Binomial tree over ranks relative to the root: a rank receives once, from the rank that
// differs in its lowest set bit, then sends to the ranks below that bit. ceil(lg p) steps,
// the whole message on every one: for short messages.
void binomial_tree_broadcast(Communicator& comm, std::span<float> data, int root) {
  const int p = comm.size();
  const int me = mod(comm.rank() - root, p);
  int mask = 1;
  for (; mask < p; mask *= 2) {
    if (me & mask) {
      comm.recv(data, mod(me - mask + root, p));
      break;
    }
  }
  for (mask /= 2; mask > 0; mask /= 2) {
    if (me + mask < p) comm.send(data, mod(me + mask + root, p));
  }
}

// The root's sends to every rank posted at once, each rank's one receive (a flat tree: one
// latency, the root's link carries p - 1 copies). Where ranks share a node's memory the
// receivers copy from the root's buffer side by side (Open MPI's single-copy transport),
// rather than each waiting for the rank before it down a tree or chain.
void scattered_broadcast(Communicator& comm, std::span<float> data, int root) {
  std::vector<Communicator::SendTo> sends;
  std::vector<Communicator::RecvFrom> recvs;
  if (comm.rank() == root) {
    for (int i = 1; i < comm.size(); ++i) sends.push_back({data, mod(root + i, comm.size())});
  } else {
    recvs.push_back({data, root});
  }
  comm.exchange_all(sends, recvs);
}

namespace {

// Binomial scatter of relative block i to relative rank i: each rank receives the blocks of
// its whole subtree [me, me + lowest set bit) and passes the upper halves on.
void binomial_scatter(Communicator& comm, std::span<float> data, const BlockOffsets& blocks, int root) {
  const int p = comm.size();
  const int me = mod(comm.rank() - root, p);
  int mask = 1;
  for (; mask < p; mask *= 2) {
    if (me & mask) {
      comm.recv(blocks.range(data, me, std::min(mask, p - me)), mod(me - mask + root, p));
      break;
    }
  }
  for (mask /= 2; mask > 0; mask /= 2) {
    if (me + mask < p) {
      const int child = me + mask;
      comm.send(blocks.range(std::span<const float>(data), child, std::min(mask, p - child)),
                mod(child + root, p));
    }
  }
}

}  // namespace

// Van de Geijn et al.: scatter the message, then all-gather it around the ring; about
// 2 n beta instead of lg p * n beta, for long messages.
void scatter_allgather_broadcast(Communicator& comm, std::span<float> data, int root) {
  const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), comm.size()));
  binomial_scatter(comm, data, blocks, root);
  ring_all_gather_in_place(comm, data, blocks, root);
}

// A chain root -> root+1 -> ... in segments of kSegmentFloats: each rank forwards segment
// s while it receives segment s+1, so after the chain fills every link carries a segment
// at once: (p - 2 + segments)(alpha + segment beta), about n beta for long messages whatever
// p (the pipelined ring broadcast of NCCL; Traff and Ripke, "Optimal broadcast for fully
// connected processor-node networks", JPDC 2008, analyse its segment size).
void pipelined_chain_broadcast(Communicator& comm, std::span<float> data, int root) {
  const int p = comm.size();
  if (p == 1) return;
  const int me = mod(comm.rank() - root, p);
  const int previous = mod(me - 1 + root, p), next = mod(me + 1 + root, p);
  const std::size_t segments = std::max<std::size_t>(1, (data.size() + kSegmentFloats - 1) / kSegmentFloats);
  auto segment = [&](std::size_t s) { return window(data, s * kSegmentFloats, kSegmentFloats); };
  if (me == 0) {
    for (std::size_t s = 0; s < segments; ++s) comm.send(segment(s), next);
    return;
  }
  comm.recv(segment(0), previous);
  if (me == p - 1) {
    for (std::size_t s = 1; s < segments; ++s) comm.recv(segment(s), previous);
    return;
  }
  for (std::size_t s = 1; s < segments; ++s) comm.sendrecv(segment(s - 1), next, segment(s), previous);
  comm.send(segment(segments - 1), next);
}

}  // namespace spmd::collectives::algorithms
