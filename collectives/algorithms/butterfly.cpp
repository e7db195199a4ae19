#include "collectives/algorithms/butterfly.h"

#include <cassert>

namespace spmd::collectives::algorithms {

void fold_in(Communicator& comm, const Fold& fold, std::span<float> data, ReduceOp op, Scratch& scratch) {
  const int rank = comm.rank();
  if (!fold.in_pair(rank)) return;
  if (fold.sits_out(rank)) {
    send_segmented(comm, data, rank + 1);
  } else {
    recv_reduce(comm, data, rank - 1, op, scratch);
  }
}

void fold_out(Communicator& comm, const Fold& fold, std::span<float> data) {
  const int rank = comm.rank();
  if (!fold.in_pair(rank)) return;
  if (fold.sits_out(rank)) {
    comm.recv(data, rank + 1);
  } else {
    comm.send(data, rank - 1);
  }
}

void halving_reduce_scatter(Communicator& comm, const Fold& fold, std::span<float> data,
                            const BlockOffsets& blocks, ReduceOp op, Scratch& scratch) {
  const int me = fold.folded_rank(comm.rank());
  assert(me >= 0 && blocks.blocks() == fold.active());
  int first = 0;  // my current range of blocks: [first, first + 2 * half)
  for (int half = fold.active() / 2; half >= 1; half /= 2) {
    const int partner = me ^ half;
    const bool keep_lower = (me & half) == 0;
    const int keep = keep_lower ? first : first + half;
    const int give = keep_lower ? first + half : first;
    sendrecv_reduce(comm, blocks.range(data, give, half), fold.group_rank(partner),
                    blocks.range(data, keep, half), fold.group_rank(partner), op, scratch);
    first = keep;
  }
}

void doubling_all_gather(Communicator& comm, const Fold& fold, std::span<float> data,
                         const BlockOffsets& blocks, std::span<const float> own) {
  const int me = fold.folded_rank(comm.rank());
  assert(me >= 0 && blocks.blocks() == fold.active());
  for (int half = 1; half < fold.active(); half *= 2) {
    const int partner = me ^ half;
    const int mine = me & ~(half - 1);  // first block of the `half` blocks I hold
    const int theirs = mine ^ half;
    const int peer = fold.group_rank(partner);
    if (half == 1 && !own.empty()) {  // the next step sends it from `data`
      comm.sendrecv_while(own, peer, blocks.range(data, theirs, half), peer,
                          [&] { comm.copy(own, blocks.block(data, me)); });
    } else {
      comm.sendrecv(blocks.range(std::span<const float>(data), mine, half), peer, blocks.range(data, theirs, half), peer);
    }
  }
  if (fold.active() == 1 && !own.empty()) comm.copy(own, blocks.block(data, me));
}

}  // namespace spmd::collectives::algorithms
