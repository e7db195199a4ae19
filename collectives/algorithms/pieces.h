// The ring and the scattered algorithms over a buffer that lies in pieces (primitives.h's
// Pieces): a bucket of tensors
// whose flat buffer has, as block b, every member's b-th block of rows side by side
// (runtime/executor.h). The blocks are sent from and received into the members where they
// lie, so nothing is packed into a flat buffer first or unpacked from one after (a packed
// 6.7 MiB ZeRO bucket of gpt's on 2 ranks copied about 0.6 ms a step for its gathers and
// 0.4 ms for its reduce-scatters).
//
// Every block of a call has the same piece sizes (each member's block), so the two sides of a
// transfer cut it into the same messages without telling each other: the pieces under
// kPackedFloats travel together in one packed message (a bucket of biases costs one latency,
// not one each), each larger piece on its own, in segments where the receiver reduces it
// (segmented.h).
#pragma once

#include <span>

#include "collectives/primitives.h"

namespace spmd::collectives::algorithms {

inline constexpr std::size_t kPackedFloats = 4096;  // 16 KiB

// Rank r's block `in` sent round the ring (Thakur et al. 2005, sec. 4.1); out[b] ends with
// rank b's. Own block copied into out[r] while the first transfer is in flight (ring.h).
void ring_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out);
// The reduction of every rank's block data[r] in `out` (sec. 4.3); the other blocks of
// `data` are summed into in place. `out` must not overlap `data`.
void ring_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out, ReduceOp op);

// The scattered algorithms (scattered.h) over pieces: every peer's messages (its packed
// small pieces, then each larger piece on its own) posted at once with exchange_all, in the
// same order on both sides. All-gather: rank r's block `in` to every peer, out[b] from rank
// b, the own block copied into out[r] after.
void scattered_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out);
// Block b of `data` to rank b; the p - 1 blocks arriving for this rank land in scratch and
// are summed into data[r] in place, which is then copied into `out`.
void scattered_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out,
                                     ReduceOp op);

}  // namespace spmd::collectives::algorithms
