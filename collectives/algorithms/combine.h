// The local reduction step: acc[i] = acc[i] op received[i]. Sum and max are commutative in
// IEEE arithmetic, so every rank that combines the same two partial results gets the same
// bits whichever side it holds; the algorithms fix the tree, which fixes the order.
#pragma once

#include <cassert>
#include <span>

#include "collectives/communicator.h"

namespace spmd::collectives::algorithms {

inline void combine(std::span<float> acc, std::span<const float> received, ReduceOp op) {
  assert(acc.size() == received.size());
  float* a = acc.data();
  const float* b = received.data();
  const std::size_t n = acc.size();
  if (op == ReduceOp::sum) {
    for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) a[i] = a[i] < b[i] ? b[i] : a[i];
  }
}

}  // namespace spmd::collectives::algorithms
