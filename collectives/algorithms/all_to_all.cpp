// All-to-all (Thakur, Rabenseifner and Gropp 2005, sec. 4.6).
#include <algorithm>
#include <bit>
#include <vector>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/blocks.h"

namespace spmd::collectives::algorithms {

// Pairwise exchange: p - 1 rounds, in round i each rank swaps one block with one peer
// (rank XOR i when p is a power of two, so the pairs are symmetric; otherwise it sends to
// rank + i and receives from rank - i).
void pairwise_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const int p = comm.size(), r = comm.rank();
  const BlockOffsets blocks = BlockOffsets::of(partition(in.size(), p));
  const auto copy_own = [&] { comm.copy(blocks.block(in, r), blocks.block(out, r)); };
  if (p == 1) copy_own();
  const bool power_of_two = std::has_single_bit(static_cast<unsigned>(p));
  for (int i = 1; i < p; ++i) {
    const int dest = power_of_two ? r ^ i : mod(r + i, p);
    const int source = power_of_two ? r ^ i : mod(r - i, p);
    if (i == 1) {  // the own block is copied while the first exchange is in flight
      comm.sendrecv_while(blocks.block(in, dest), dest, blocks.block(out, source), source, copy_own);
    } else {
      comm.sendrecv(blocks.block(in, dest), dest, blocks.block(out, source), source);
    }
  }
}

// Every block sent and received at once (MPICH's algorithm for medium-sized messages, sec.
// 4.6), listed as the pairwise rounds are (to rank + i, from rank - i) so that a backend
// without concurrent transfers runs them as those rounds. Where ranks take turns on a core a
// rank finishes whatever its peers have posted while it runs, rather than waiting for each
// round's partner in turn.
void scattered_all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out) {
  const int p = comm.size(), r = comm.rank();
  const BlockOffsets blocks = BlockOffsets::of(partition(in.size(), p));
  std::vector<Communicator::SendTo> sends;
  std::vector<Communicator::RecvFrom> recvs;
  for (int i = 1; i < p; ++i) {
    sends.push_back({blocks.block(in, mod(r + i, p)), mod(r + i, p)});
    recvs.push_back({blocks.block(out, mod(r - i, p)), mod(r - i, p)});
  }
  comm.copy(blocks.block(in, r), blocks.block(out, r));
  comm.exchange_all(sends, recvs);
}

}  // namespace spmd::collectives::algorithms
