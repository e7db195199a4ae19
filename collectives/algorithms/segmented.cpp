#include "collectives/algorithms/segmented.h"

#include <algorithm>


namespace spmd::collectives::algorithms {
namespace {

std::size_t segment_count(std::size_t n) { return std::max<std::size_t>(1, (n + kSegmentFloats - 1) / kSegmentFloats); }

template <class T>
std::span<T> segment(std::span<T> data, std::size_t k) {
  return window(data, k * kSegmentFloats, kSegmentFloats);
}

}  // namespace

Scratch::Scratch(Communicator& comm, std::size_t largest_block) {
  const std::size_t floats = std::min(largest_block, kSegmentFloats);
  if (floats > kInlineFloats || comm.device_memory()) taken_ = comm.allocate(std::max<std::size_t>(floats, 1));
}

void send_segmented(Communicator& comm, std::span<const float> data, int dest) {
  for (std::size_t k = 0, segments = segment_count(data.size()); k < segments; ++k) {
    comm.send(segment(data, k), dest);
  }
}

void recv_reduce(Communicator& comm, std::span<float> acc, int source, ReduceOp op, Scratch& scratch) {
  for (std::size_t k = 0, segments = segment_count(acc.size()); k < segments; ++k) {
    const std::span<float> target = segment(acc, k);
    const std::span<float> received = scratch.first(target.size());
    comm.recv(received, source);
    comm.combine(target, received, op);
  }
}

void sendrecv_reduce(Communicator& comm, std::span<const float> send, int dest, std::span<float> acc,
                     int source, ReduceOp op, Scratch& scratch) {
  // The two directions may have different segment counts (uneven blocks): in the rounds
  // where one side has nothing left, only the other transfer runs. Every rank's round k
  // pairs with its neighbours' round k, so the blocking half-transfers cannot deadlock.
  const std::size_t send_segments = segment_count(send.size());
  const std::size_t recv_segments = segment_count(acc.size());
  for (std::size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
    if (k >= recv_segments) {
      comm.send(segment(send, k), dest);
      continue;
    }
    const std::span<float> target = segment(acc, k);
    const std::span<float> received = scratch.first(target.size());
    if (k < send_segments) {
      comm.sendrecv(segment(send, k), dest, received, source);
    } else {
      comm.recv(received, source);
    }
    comm.combine(target, received, op);
  }
}

}  // namespace spmd::collectives::algorithms
