// All-reduce (Thakur, Rabenseifner and Gropp 2005, sec. 4.4).
#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/butterfly.h"
#include "collectives/algorithms/ring.h"
#include "collectives/algorithms/scattered.h"

namespace spmd::collectives::algorithms {

// Ring reduce-scatter followed by ring all-gather: 2(p-1) steps, 2(p-1)/p n bytes per rank.
void ring_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op) {
  const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), comm.size()));
  Scratch scratch(comm, blocks.largest());
  ring_reduce_scatter_in_place(comm, data, blocks, op, scratch);
  ring_all_gather_in_place(comm, data, blocks);
}

// Rabenseifner: recursive-halving reduce-scatter then recursive-doubling all-gather among
// p' ranks, 2 lg p' steps and 2(p'-1)/p' n bytes, plus the fold for non-powers of two.
void rabenseifner_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op) {
  const Fold fold(comm.size());
  Scratch scratch(comm, data.size());
  fold_in(comm, fold, data, op, scratch);
  if (!fold.sits_out(comm.rank())) {
    const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), fold.active()));
    halving_reduce_scatter(comm, fold, data, blocks, op, scratch);
    doubling_all_gather(comm, fold, data, blocks);
  }
  fold_out(comm, fold, data);
}

// Recursive doubling: lg p' full-vector exchanges, each partner combining both halves of the
// group it now represents; fewest steps, for short messages.
void recursive_doubling_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op) {
  const Fold fold(comm.size());
  Scratch scratch(comm, data.size());
  fold_in(comm, fold, data, op, scratch);
  if (const int me = fold.folded_rank(comm.rank()); me >= 0) {
    for (int distance = 1; distance < fold.active(); distance *= 2) {
      const int peer = fold.group_rank(me ^ distance);
      sendrecv_reduce(comm, data, peer, data, peer, op, scratch);
    }
  }
  fold_out(comm, fold, data);
}

// Scattered reduce-scatter followed by scattered all-gather (scattered.h): 2 latencies, the
// ring's bytes and sums.
void scattered_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op) {
  const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), comm.size()));
  scattered_reduce_scatter_in_place(comm, data, blocks, op);
  scattered_all_gather_in_place(comm, data, blocks);
}

}  // namespace spmd::collectives::algorithms
