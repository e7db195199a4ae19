#include "collectives/algorithms/pieces.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "collectives/algorithms/blocks.h"
#include "collectives/algorithms/segmented.h"

namespace spmd::collectives::algorithms {
namespace {

bool packed(std::span<float> piece) { return piece.size() < kPackedFloats; }

// The buffers of one call's transfers: the packed small pieces, each way, and the scratch
// a reducing receive lands in.
struct Staging {
  Staging(Communicator& comm, const Pieces& shape, bool reduces) : scratch(comm, reduces ? largest(shape) : 0) {
    std::size_t small = 0;
    for (std::span<float> piece : shape) small += packed(piece) ? piece.size() : 0;
    if (small == 0) return;
    send = comm.allocate(small);
    recv = comm.allocate(small);
    floats = small;
  }
  static std::size_t largest(const Pieces& shape) {
    std::size_t n = 0;
    for (std::span<float> piece : shape) n = std::max(n, piece.size());
    return n;
  }
  CommBuffer send, recv;
  std::size_t floats = 0;
  Scratch scratch;
};

// Sends `send` to `dest` while `recv` (the same piece sizes) comes from `source`, reduced
// into by `op` where given, else written. `meanwhile` runs during the first transfer.
void exchange(Communicator& comm, const Pieces& send, int dest, const Pieces& recv, int source,
              std::optional<ReduceOp> op, Staging& staging, std::function<void()> meanwhile) {
  auto transfer = [&](std::span<const float> out, std::span<float> in) {
    if (!meanwhile) return comm.sendrecv(out, dest, in, source);
    comm.sendrecv_while(out, dest, in, source, meanwhile);
    meanwhile = nullptr;
  };
  if (staging.floats > 0) {
    float* at = staging.send.get();
    for (std::span<float> piece : send) {
      if (!packed(piece)) continue;
      comm.copy(piece, {at, piece.size()});  // the communicator's memory, as the unpacking below
      at += piece.size();
    }
    transfer({staging.send.get(), staging.floats}, {staging.recv.get(), staging.floats});
    const float* from = staging.recv.get();
    for (std::span<float> piece : recv) {
      if (!packed(piece)) continue;
      const std::span<const float> arrived(from, piece.size());
      op ? comm.combine(piece, arrived, *op) : comm.copy(arrived, piece);
      from += piece.size();
    }
  }
  for (std::size_t i = 0; i < send.size(); ++i) {
    if (packed(send[i])) continue;
    if (!op) {
      transfer(send[i], recv[i]);
      continue;
    }
    for (std::size_t at = 0; at < recv[i].size(); at += kSegmentFloats) {
      const std::size_t n = std::min(kSegmentFloats, recv[i].size() - at);
      const std::span<float> arrived = staging.scratch.first(n);
      transfer(send[i].subspan(at, n), arrived);
      comm.combine(recv[i].subspan(at, n), arrived, *op);
    }
  }
  if (meanwhile) meanwhile();  // no transfer: nothing in the pieces
}

void copy_pieces(Communicator& comm, const Pieces& from, const Pieces& to) {
  for (std::size_t i = 0; i < from.size(); ++i) comm.copy(from[i], to[i]);
}

}  // namespace

void ring_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out) {
  const int p = comm.size(), r = comm.rank();
  const int next = mod(r + 1, p), prev = mod(r - 1, p);
  Staging staging(comm, in, false);
  // At step s rank r forwards the block it received at step s-1 (its own at step 0).
  for (int s = 0; s < p - 1; ++s) {
    const Pieces& received = out[mod(r - s - 1, p)];
    if (s == 0) {
      exchange(comm, in, next, received, prev, std::nullopt, staging, [&] { copy_pieces(comm, in, out[r]); });
    } else {
      exchange(comm, out[mod(r - s, p)], next, received, prev, std::nullopt, staging, {});
    }
  }
  if (p == 1) copy_pieces(comm, in, out[0]);
}

void ring_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out, ReduceOp op) {
  const int p = comm.size(), r = comm.rank();
  const int next = mod(r + 1, p), prev = mod(r - 1, p);
  Staging staging(comm, out, true);
  // As ring.h's: at step s rank r passes on its partial sum of block r-s-1 and adds its own
  // to the partial sum of block r-s-2 arriving from r-1. The last arrives as block r's
  // partial sum straight into `out`, which then takes rank r's own block.
  for (int s = 0; s < p - 1; ++s) {
    const Pieces& send = data[mod(r - s - 1, p)];
    if (s < p - 2) {
      exchange(comm, send, next, data[mod(r - s - 2, p)], prev, op, staging, {});
      continue;
    }
    exchange(comm, send, next, out, prev, std::nullopt, staging, {});
    for (std::size_t i = 0; i < out.size(); ++i) comm.combine(out[i], data[r][i], op);
  }
  if (p == 1) copy_pieces(comm, data[0], out);
}

}  // namespace spmd::collectives::algorithms
