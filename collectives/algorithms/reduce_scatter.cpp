// Reduce-scatter (Thakur, Rabenseifner and Gropp 2005, sec. 4.3).
#include <algorithm>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/butterfly.h"
#include "collectives/algorithms/ring.h"
#include "collectives/algorithms/scattered.h"

namespace spmd::collectives::algorithms {

// p-1 steps of the ring; rank r's block is complete after the last one.
void ring_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op) {
  const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), comm.size()));
  Scratch scratch(comm, blocks.largest());
  ring_reduce_scatter_in_place(comm, data, blocks, op, scratch);
  comm.copy(blocks.block(std::span<const float>(data), comm.rank()), out);
}

namespace {

// The p' ranges the folded ranks reduce: folded rank i owns the original blocks of the group
// ranks it stands for (blocks 2i and 2i+1 for the first r, which are adjacent).
BlockOffsets folded_blocks(const Fold& fold, const Partition& partition) {
  std::vector<int64_t> offsets(fold.active() + 1, partition.n);
  for (int i = 0; i < fold.active(); ++i) offsets[i] = partition.offset(fold.first_block(i));
  return BlockOffsets(std::move(offsets));
}

}  // namespace

// Recursive halving among p' ranks (sec. 4.3), with the fold of sec. 4.4: a rank that sat
// out receives its own block from its odd neighbour at the end.
void recursive_halving_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out,
                                      ReduceOp op) {
  const int rank = comm.rank();
  const Partition cut = partition(data.size(), comm.size());
  const BlockOffsets blocks = BlockOffsets::of(cut);
  const Fold fold(comm.size());
  Scratch scratch(comm, data.size());
  fold_in(comm, fold, data, op, scratch);
  if (fold.sits_out(rank)) {
    comm.recv(out, rank + 1);
    return;
  }
  halving_reduce_scatter(comm, fold, data, folded_blocks(fold, cut), op, scratch);
  if (fold.in_pair(rank)) comm.send(blocks.block(std::span<const float>(data), rank - 1), rank - 1);
  comm.copy(blocks.block(std::span<const float>(data), rank), out);
}

// The direct reduce-scatter (scattered.h).
void scattered_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op) {
  const BlockOffsets blocks = BlockOffsets::of(partition(data.size(), comm.size()));
  scattered_reduce_scatter_in_place(comm, data, blocks, op);
  comm.copy(blocks.block(std::span<const float>(data), comm.rank()), out);
}

}  // namespace spmd::collectives::algorithms
