#include "collectives/algorithms/ring.h"

namespace spmd::collectives::algorithms {

void ring_reduce_scatter_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                                  ReduceOp op, Scratch& scratch) {
  const int p = comm.size(), r = comm.rank();
  const int next = mod(r + 1, p), prev = mod(r - 1, p);
  // At step s rank r passes on its partial sum of block r-s-1 and adds its own data to the
  // partial sum of block r-s-2 arriving from r-1; after p-1 steps that block is block r.
  for (int s = 0; s < p - 1; ++s) {
    sendrecv_reduce(comm, blocks.block(std::span<const float>(data), mod(r - s - 1, p)), next,
                    blocks.block(data, mod(r - s - 2, p)), prev, op, scratch);
  }
}

void ring_all_gather_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                              int shift, std::span<const float> own) {
  const int p = comm.size(), r = comm.rank();
  const int next = mod(r + 1, p), prev = mod(r - 1, p);
  // At step s rank r forwards the block it received at step s-1 (its own at step 0).
  for (int s = 0; s < p - 1; ++s) {
    const std::span<float> received = blocks.block(data, mod(r - s - 1 - shift, p));
    if (s == 0 && !own.empty()) {
      comm.sendrecv_while(own, next, received, prev, [&] { comm.copy(own, blocks.block(data, mod(r - shift, p))); });
    } else {
      comm.sendrecv(blocks.block(std::span<const float>(data), mod(r - s - shift, p)), next, received, prev);
    }
  }
  if (p == 1 && !own.empty()) comm.copy(own, blocks.block(data, 0));
}

}  // namespace spmd::collectives::algorithms
