// The two halves of the scattered algorithms: every block's transfers posted at once through
// Communicator::exchange_all (MPICH's all-to-all for medium messages, Thakur et al. 2005,
// sec. 4.6, applied to reduce-scatter and all-gather): one latency where the ring pays p - 1,
// the ring's bytes. Listed to rank + i and from rank - i, so that a backend without
// concurrent transfers runs them as the ring's rounds; where ranks take turns on a core, a
// rank finishes whatever its peers posted while it runs rather than waiting for each round.
#pragma once

#include <span>

#include "collectives/algorithms/blocks.h"

namespace spmd::collectives::algorithms {

// Afterwards block `rank` of `data` holds the reduction over all ranks; the p - 1 blocks of
// this rank's arrive into scratch at once. Other blocks are left as they were.
void scattered_reduce_scatter_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                                       ReduceOp op);
// Every rank's block sent to every peer at once: before, rank r holds block r of `data` (or
// `own`, sent from there, where given); afterwards every rank holds all. `own` is not
// copied into `data`.
void scattered_all_gather_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                                   std::span<const float> own = {});

}  // namespace spmd::collectives::algorithms
