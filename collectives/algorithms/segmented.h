// Transfers whose receiving side reduces into its own buffer. A long message is cut into
// segments of at most kSegmentFloats, each received into a small scratch buffer and combined
// from there while it is still in cache: scratch memory stays bounded whatever the message
// size, and large collectives do not pay page faults on a fresh full-size temporary.
// Sender and receiver cut a message of n elements the same way (segment_count(n) messages,
// at least one, so empty blocks still pair up).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>

#include "collectives/communicator.h"

namespace spmd::collectives::algorithms {

inline constexpr std::size_t kSegmentFloats = std::size_t{1} << 17;  // 512 KiB

// Elements [at, at + n) of `data`, cut at its end (empty past it): a message's segment.
template <class T>
std::span<T> window(std::span<T> data, std::size_t at, std::size_t n) {
  const std::size_t from = std::min(at, data.size());
  return data.subspan(from, std::min(n, data.size() - from));
}

// Scratch for one collective call, in the communicator's memory, sized for the largest block
// it will receive (at most a segment). Short messages on the host use the inline buffer: no
// allocation on the latency-bound path.
class Scratch {
 public:
  Scratch(Communicator& comm, std::size_t largest_block);
  std::span<float> first(std::size_t n) { return {taken_ ? taken_.get() : inline_, n}; }

 private:
  static constexpr std::size_t kInlineFloats = 1024;
  float inline_[kInlineFloats];
  CommBuffer taken_;
};

// Sends `data` to `dest` in segments (the peer calls recv_reduce or sendrecv_reduce).
void send_segmented(Communicator& comm, std::span<const float> data, int dest);
// acc = acc op (what `source` sends with send_segmented).
void recv_reduce(Communicator& comm, std::span<float> acc, int source, ReduceOp op, Scratch& scratch);
// Both at once: sends `send` to `dest` while reducing what `source` sends into `acc`.
// `send` may be `acc` itself: each segment is sent before the same segment is combined.
void sendrecv_reduce(Communicator& comm, std::span<const float> send, int dest, std::span<float> acc,
                     int source, ReduceOp op, Scratch& scratch);

}  // namespace spmd::collectives::algorithms
