#include "collectives/algorithms/pieces.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "collectives/algorithms/blocks.h"
#include "collectives/algorithms/segmented.h"

namespace spmd::collectives::algorithms {
namespace {

bool packed(std::span<float> piece) { return piece.size() < kPackedFloats; }

std::size_t packed_floats(const Pieces& shape) {
  std::size_t n = 0;
  for (std::span<float> piece : shape) n += packed(piece) ? piece.size() : 0;
  return n;
}

// `pieces`' small ones copied side by side from `at` (the communicator's memory, as the
// unpacking below).
void pack_small(Communicator& comm, const Pieces& pieces, float* at) {
  for (std::span<float> piece : pieces) {
    if (!packed(piece)) continue;
    comm.copy(piece, {at, piece.size()});
    at += piece.size();
  }
}

// `pieces`' small ones taken from side by side at `from`: reduced into by `op` where given,
// else written.
void unpack_small(Communicator& comm, const float* from, const Pieces& pieces, std::optional<ReduceOp> op) {
  for (std::span<float> piece : pieces) {
    if (!packed(piece)) continue;
    const std::span<const float> arrived(from, piece.size());
    op ? comm.combine(piece, arrived, *op) : comm.copy(arrived, piece);
    from += piece.size();
  }
}

// The buffers of one call's transfers: the packed small pieces, each way, and the scratch
// a reducing receive lands in.
struct Staging {
  Staging(Communicator& comm, const Pieces& shape, bool reduces) : scratch(comm, reduces ? largest(shape) : 0) {
    const std::size_t small = packed_floats(shape);
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
    pack_small(comm, send, staging.send.get());
    transfer({staging.send.get(), staging.floats}, {staging.recv.get(), staging.floats});
    unpack_small(comm, staging.recv.get(), recv, op);
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

// A scattered call's messages to and from every peer, in the order both sides list them:
// for round i (to rank + i, from rank - i) the packed message, then each larger piece.
struct Scattered {
  std::vector<Communicator::SendTo> sends;
  std::vector<Communicator::RecvFrom> recvs;
  void add(std::span<const float> send, int dest, std::span<float> recv, int source) {
    sends.push_back({send, dest});
    recvs.push_back({recv, source});
  }
};

// Calls `f(part, from)` for each part of the parts of `parts`, laid end to end, that lies in
// elements [at, at + n): `from` is where that part starts within the window.
template <class Span, class F>
void for_window(const std::vector<Span>& parts, std::size_t at, std::size_t n, F&& f) {
  std::size_t part_at = 0;
  for (const Span& part : parts) {
    const std::size_t lo = std::max(at, part_at), hi = std::min(at + n, part_at + part.size());
    if (lo < hi) f(part.subspan(lo - part_at, hi - lo), lo - at);
    part_at += part.size();
  }
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

void scattered_all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out) {
  const int p = comm.size(), r = comm.rank();
  const std::size_t small = packed_floats(in);
  CommBuffer send = comm.allocate(small), recv = comm.allocate(small * static_cast<std::size_t>(p - 1));
  pack_small(comm, in, send.get());
  Scattered x;
  for (int i = 1; i < p; ++i) {
    const int dest = mod(r + i, p), source = mod(r - i, p);
    if (small > 0) x.add({send.get(), small}, dest, {recv.get() + (i - 1) * small, small}, source);
    for (std::size_t k = 0; k < in.size(); ++k) {
      if (!packed(in[k])) x.add(in[k], dest, out[source][k], source);
    }
  }
  comm.exchange_all(x.sends, x.recvs);
  for (int i = 1; i < p && small > 0; ++i) {
    unpack_small(comm, recv.get() + (i - 1) * small, out[mod(r - i, p)], std::nullopt);
  }
  copy_pieces(comm, in, out[r]);
}

void scattered_reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out,
                                     ReduceOp op) {
  const int p = comm.size(), r = comm.rank();
  const Pieces& own = data[r];
  // Rank r + i's message from this rank: block r + i's packed small pieces, then each larger
  // piece. Rank r - i's lands over this rank's own pieces in the same order (`landing`); every
  // block has the same piece sizes, so a window cuts the two messages alike.
  const std::size_t small = packed_floats(own);
  CommBuffer packed_out = comm.allocate(small * static_cast<std::size_t>(p - 1));
  std::vector<std::vector<std::span<const float>>> message(p - 1);
  for (int i = 1; i < p; ++i) {
    const Pieces& block = data[mod(r + i, p)];
    float* packed_at = packed_out.get() + (i - 1) * small;
    pack_small(comm, block, packed_at);
    if (small > 0) message[i - 1].push_back({packed_at, small});
    for (std::span<float> piece : block) {
      if (!packed(piece)) message[i - 1].push_back(piece);
    }
  }
  std::vector<std::span<float>> landing;
  for (bool small_ones : {true, false}) {
    for (std::span<float> piece : own) {
      if (packed(piece) == small_ones) landing.push_back(piece);
    }
  }
  // In rounds of a segment of every message, as scattered_reduce_scatter_in_place: scratch
  // for p - 1 segments whatever the bucket, each combined while in cache.
  const std::size_t block = floats_in(own);
  const std::size_t segment = std::min(block, kSegmentFloats);
  CommBuffer arrived = comm.allocate(segment * static_cast<std::size_t>(p - 1));
  for (std::size_t at = 0; at < block; at += segment) {
    Scattered x;
    for (int i = 1; i < p; ++i) {
      float* slot = arrived.get() + (i - 1) * segment;
      for_window(message[i - 1], at, segment, [&](std::span<const float> part, std::size_t from) {
        x.add(part, mod(r + i, p), {slot + from, part.size()}, mod(r - i, p));
      });
    }
    comm.exchange_all(x.sends, x.recvs);
    for (int i = 1; i < p; ++i) {
      const float* slot = arrived.get() + (i - 1) * segment;
      for_window(landing, at, segment, [&](std::span<float> part, std::size_t from) {
        comm.combine(part, {slot + from, part.size()}, op);
      });
    }
  }
  copy_pieces(comm, own, out);
}

}  // namespace spmd::collectives::algorithms
