// The scattered halves (scattered.h).
#include "collectives/algorithms/scattered.h"

#include <vector>

namespace spmd::collectives::algorithms {

void scattered_reduce_scatter_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                                       ReduceOp op) {
  const int p = comm.size(), r = comm.rank();
  const std::span<float> own = blocks.block(data, r);
  if (p == 1) return;
  CommBuffer arrived = comm.allocate(own.size() * static_cast<std::size_t>(p - 1));
  std::vector<Communicator::SendTo> sends;
  std::vector<Communicator::RecvFrom> recvs;
  for (int i = 1; i < p; ++i) {
    sends.push_back({blocks.block(std::span<const float>(data), mod(r + i, p)), mod(r + i, p)});
    recvs.push_back({{arrived.get() + (i - 1) * own.size(), own.size()}, mod(r - i, p)});
  }
  comm.exchange_all(sends, recvs);
  for (const Communicator::RecvFrom& from : recvs) comm.combine(own, from.data, op);
}

void scattered_all_gather_in_place(Communicator& comm, std::span<float> data, const BlockOffsets& blocks,
                                   std::span<const float> own) {
  const int p = comm.size(), r = comm.rank();
  if (own.empty()) own = blocks.block(std::span<const float>(data), r);
  std::vector<Communicator::SendTo> sends;
  std::vector<Communicator::RecvFrom> recvs;
  for (int i = 1; i < p; ++i) {
    sends.push_back({own, mod(r + i, p)});
    recvs.push_back({blocks.block(data, mod(r - i, p)), mod(r - i, p)});
  }
  comm.exchange_all(sends, recvs);
}

}  // namespace spmd::collectives::algorithms
