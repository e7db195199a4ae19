// Broadcast (Thakur, Rabenseifner and Gropp 2005, sec. 4.1).
#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/ring.h"

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

}  // namespace spmd::collectives::algorithms
