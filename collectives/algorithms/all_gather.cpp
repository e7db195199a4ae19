// All-gather (Thakur, Rabenseifner and Gropp 2005, sec. 4.1).
#include <algorithm>
#include <bit>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/butterfly.h"
#include "collectives/algorithms/ring.h"
#include "collectives/algorithms/scattered.h"

namespace spmd::collectives::algorithms {

void ring_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const BlockOffsets blocks = BlockOffsets::of(partition(out.size(), comm.size()));
  ring_all_gather_in_place(comm, out, blocks, 0, in);  // sends `in` itself first (ring.h says why)
}

namespace {

// Elements of the `count` blocks starting at block `first`, wrapping around past the last.
int64_t wrapped_size(const Partition& cut, int first, int count) {
  const int end = first + count;
  if (end <= cut.p) return (end < cut.p ? cut.offset(end) : cut.n) - cut.offset(first);
  return (cut.n - cut.offset(first)) + cut.offset(end - cut.p);
}

// Bruck et al. (1997), as in sec. 4.1 for non-powers of two: ceil(lg p) steps. Rank r keeps
// the blocks r, r+1, ... (mod p) contiguously at the front of `out`; at distance d it sends
// its first min(d, p-d) blocks to r-d and appends those of r+d. A final rotation puts
// block 0 first.
void bruck_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const int p = comm.size(), r = comm.rank();
  const Partition cut = partition(out.size(), p);
  int64_t held = static_cast<int64_t>(in.size());
  for (int distance = 1; distance < p; distance *= 2) {
    const int count = std::min(distance, p - distance);
    const int64_t sent = wrapped_size(cut, r, count);
    const int64_t received = wrapped_size(cut, mod(r + distance, p), count);
    // The first step sends `in` itself, copied to the front meanwhile (ring.h says why).
    if (distance == 1) {
      comm.sendrecv_while(in, mod(r - distance, p), out.subspan(held, received), mod(r + distance, p),
                          [&] { comm.copy(in, out.first(in.size())); });
    } else {
      comm.sendrecv(std::span<const float>(out).first(sent), mod(r - distance, p), out.subspan(held, received),
                    mod(r + distance, p));
    }
    held += received;
  }
  std::rotate(out.begin(), out.begin() + (cut.n - cut.offset(r)), out.end());
}

}  // namespace

// Recursive doubling for powers of two (lg p steps, partners swap everything they hold);
// Bruck's variant otherwise, which has the same cost without the power-of-two structure.
void recursive_doubling_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const int p = comm.size();
  if (!std::has_single_bit(static_cast<unsigned>(p))) {
    bruck_all_gather(comm, in, out);
    return;
  }
  const BlockOffsets blocks = BlockOffsets::of(partition(out.size(), p));
  doubling_all_gather(comm, Fold(p), out, blocks, in);  // sends `in` itself first (ring.h says why)
}

// The direct all-gather (scattered.h), sent from `in` itself, so peers read it rather than
// memory this core has just written (ring.h says why); `in` is copied into place after the
// transfers. Copied while they were in flight (exchange_all posts them all first), it made
// no difference here on 2 or 4 ranks: where a receiver copies what it takes (MPI's
// single-copy path for large messages), the own copy holds back its progress as long.
void scattered_all_gather(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const BlockOffsets blocks = BlockOffsets::of(partition(out.size(), comm.size()));
  scattered_all_gather_in_place(comm, out, blocks, in);
  comm.copy(in, blocks.block(out, comm.rank()));
}

}  // namespace spmd::collectives::algorithms
