// The butterfly exchanges shared by the recursive algorithms, run among the p' active ranks
// of a Fold, over p' contiguous blocks (block i belongs to folded rank i).
#pragma once

#include <span>

#include "collectives/algorithms/blocks.h"
#include "collectives/algorithms/fold.h"
#include "collectives/algorithms/segmented.h"

namespace spmd::collectives::algorithms {

// Pre-step of the fold: the ranks that sit out reduce their data into their odd neighbour's.
void fold_in(Communicator& comm, const Fold& fold, std::span<float> data, ReduceOp op, Scratch& scratch);
// Post-step: the odd neighbours hand the full result back to the ranks that sat out.
void fold_out(Communicator& comm, const Fold& fold, std::span<float> data);

// Recursive halving (Thakur et al. 2005, sec. 4.3/4.4): at distances p'/2, p'/4, ..., 1 each
// active rank sends the half of its current range its partner keeps and reduces the other
// half; afterwards block `folded` of `data` is reduced over all active ranks.
void halving_reduce_scatter(Communicator& comm, const Fold& fold, std::span<float> data,
                            const BlockOffsets& blocks, ReduceOp op, Scratch& scratch);
// Recursive doubling (sec. 4.1): at distances 1, 2, ..., p'/2 partners swap the blocks each
// holds, so the ranges double; the exact reverse of halving_reduce_scatter. Where `own` is
// given, this rank's block is sent from there at the first step and copied into `data` while
// that transfer is in flight (ring.h's ring_all_gather_in_place says why).
void doubling_all_gather(Communicator& comm, const Fold& fold, std::span<float> data,
                         const BlockOffsets& blocks, std::span<const float> own = {});

}  // namespace spmd::collectives::algorithms
