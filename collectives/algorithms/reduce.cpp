// Reduce (Thakur, Rabenseifner and Gropp 2005, sec. 4.5).
#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/blocks.h"
#include "collectives/algorithms/segmented.h"

namespace spmd::collectives::algorithms {

// Binomial tree, the mirror of the broadcast's: relative rank `me` reduces the data of
// me + 1, me + 2, me + 4, ... (while those bits of `me` are clear), then sends its partial
// result to the rank that differs in its lowest set bit.
void binomial_tree_reduce(Communicator& comm, std::span<float> data, int root, ReduceOp op) {
  const int p = comm.size();
  const int me = mod(comm.rank() - root, p);
  Scratch scratch(comm, data.size());
  for (int mask = 1; mask < p; mask *= 2) {
    if (me & mask) {
      send_segmented(comm, data, mod(me - mask + root, p));
      return;
    }
    if (me + mask < p) recv_reduce(comm, data, mod(me + mask + root, p), op, scratch);
  }
}

}  // namespace spmd::collectives::algorithms
