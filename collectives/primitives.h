// The collective primitives, each implemented by the project over point-to-point messages
// with the algorithms of Thakur, Rabenseifner and Gropp, "Optimization of Collective
// Communication Operations in MPICH" (IJHPCA 2005), and also available as the backend
// library's own collective (Algorithm::native) as baseline and fallback.
//
// Buffers are f32. Any group size (not only powers of two) and any element count: where a
// buffer is cut into one block per rank, block i is partition(n, p).block(i) (the first
// n % p blocks get one element more).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "collectives/communicator.h"

namespace spmd::collectives {

enum class Algorithm {
  native,                      // the backend library's own collective (MPI_Allreduce ...)
  ring,                        // all-reduce, reduce-scatter, all-gather: bandwidth-optimal
  recursive_halving_doubling,  // all-reduce (Rabenseifner), reduce-scatter (halving)
  recursive_doubling,          // all-reduce, all-gather: latency-optimal for small messages
  binomial_tree,               // broadcast, reduce
  scatter_allgather,           // broadcast of large messages (van de Geijn)
  pipelined_chain,             // broadcast of large messages in segments down a chain of ranks
  pairwise,                    // all-to-all: p-1 rounds of pairwise exchange
  scattered,                   // every block's send and receive posted at once (all but reduce)
  shared_memory,               // loads and stores of peers' buffers in node-shared memory (all but reduce)
};

std::string to_string(Algorithm a);
Algorithm algorithm_from_string(const std::string& name);  // throws spmd::Error

// The cut of n elements into p blocks.
struct Partition {
  int64_t n = 0;
  int p = 1;
  int64_t offset(int i) const;
  int64_t count(int i) const;
};
inline Partition partition(int64_t n, int p) { return {n, p}; }

// Every rank ends with the elementwise reduction of all ranks' `data`. In place.
void all_reduce(Communicator& comm, std::span<float> data, ReduceOp op, Algorithm algo);
// Rank i ends with block i of the reduction of all ranks' `data` in `out`
// (out.size() == partition(data.size(), p).count(i)). `data` is used as scratch.
void reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op,
                    Algorithm algo);
// Every rank ends with the concatenation of all ranks' blocks in `out`; rank i's block is
// `in` (in.size() == partition(out.size(), p).count(i)).
void all_gather(Communicator& comm, std::span<const float> in, std::span<float> out, Algorithm algo);
// Every rank ends with `root`'s `data`.
void broadcast(Communicator& comm, std::span<float> data, int root, Algorithm algo);
// `root` ends with the reduction of all ranks' `data` (others' `data` is scratch).
void reduce(Communicator& comm, std::span<float> data, int root, ReduceOp op, Algorithm algo);
// Block j of rank i's `in` ends as block i of rank j's `out`; blocks are
// partition(in.size(), p); in.size() == out.size() and must be a multiple of p.
void all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out, Algorithm algo);

// A buffer that lies in pieces: its runs of memory, in order (a bucket's members).
using Pieces = std::vector<std::span<float>>;
// The floats of all of `pieces`. O(pieces).
std::size_t floats_in(const Pieces& pieces);

// all_gather and reduce_scatter of a flat buffer whose block b lies in pieces: blocks[b],
// every block with the same piece sizes (all_gather: `in`, this rank's block, and each of
// out; reduce_scatter: each of data, and out). The ring, scattered and shared memory run
// over the pieces where they lie (algorithms/pieces.h, algorithms/shared_memory.cpp); where packs_pieces(algo, p), `algo` runs over a packed copy in the
// communicator's memory instead, which costs a copy of each buffer. reduce_scatter may sum into
// `data` in place; `out` must not overlap it.
void all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out, Algorithm algo);
void reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out, ReduceOp op,
                           Algorithm algo);
// Whether the pieces forms pack for `algo` on `ranks`: all but the ring, scattered and
// shared memory, and on two ranks all but native (any of ours is then one exchange, the ring's).
bool packs_pieces(Algorithm algo, int ranks);

// The algorithms each primitive implements (native first).
std::vector<Algorithm> algorithms_of(const std::string& primitive);

}  // namespace spmd::collectives
