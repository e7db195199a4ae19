// The project's own algorithms for each primitive, written over Communicator point-to-point
// (Thakur, Rabenseifner and Gropp 2005). primitives.cpp validates the buffers and dispatches
// here; these functions assume valid sizes and p > 1.
#pragma once

#include <span>

#include "collectives/communicator.h"
#include "collectives/primitives.h"

namespace spmd::collectives::algorithms {

// all_reduce.cpp
void ring_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op);
void rabenseifner_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op);
void recursive_doubling_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op);
void scattered_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op);

// reduce_scatter.cpp
void ring_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op);
void scattered_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op);
void recursive_halving_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out,
                                      ReduceOp op);

// all_gather.cpp
void ring_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out);
void recursive_doubling_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out);
void scattered_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out);

// broadcast.cpp
void binomial_tree_broadcast(Communicator& comm, std::span<float> data, int root);
void scatter_allgather_broadcast(Communicator& comm, std::span<float> data, int root);
void pipelined_chain_broadcast(Communicator& comm, std::span<float> data, int root);
void scattered_broadcast(Communicator& comm, std::span<float> data, int root);

// reduce.cpp
void binomial_tree_reduce(Communicator& comm, std::span<float> data, int root, ReduceOp op);

// all_to_all.cpp
void pairwise_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out);
void scattered_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out);

// shared_memory.cpp: over node-shared memory (Communicator::allocate_node_shared), loading
// and storing peers' buffers; each falls back to the algorithm named in its file where any
// rank's buffer is not in it. Where a rank copies in at most kStagedFloats (a broadcast's
// buffer, an all-gather's block, the others' input), they stage instead
// (Communicator::staging), whatever memory the buffers lie in.
inline constexpr std::size_t kStagedFloats = 1024;  // 4 KiB
void shared_memory_all_reduce(Communicator& comm, std::span<float> data, ReduceOp op);
void shared_memory_reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op);
void shared_memory_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out);
void shared_memory_broadcast(Communicator& comm, std::span<float> data, int root);
void shared_memory_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out);
// The same over buffers in pieces (primitives.h's all_gather_pieces, reduce_scatter_pieces),
// where they lie; the ring over pieces where any rank's piece is not in it.
void shared_memory_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out);
void shared_memory_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out,
                                         ReduceOp op);

}  // namespace spmd::collectives::algorithms
