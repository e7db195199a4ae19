// The host-memory defaults of Communicator's memory calls.
#include "collectives/communicator.h"

#include <algorithm>

#include "collectives/algorithms/combine.h"

namespace spmd::collectives {

void Communicator::combine(std::span<float> acc, std::span<const float> in, ReduceOp op) {
  algorithms::combine(acc, in, op);
}

void Communicator::copy(std::span<const float> from, std::span<float> to) { std::ranges::copy(from, to.begin()); }

CommBuffer Communicator::allocate(std::size_t n) {
  return CommBuffer(new float[n], [](float* p) { delete[] p; });
}

}  // namespace spmd::collectives
