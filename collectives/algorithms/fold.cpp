#include "collectives/algorithms/fold.h"

#include <bit>

namespace spmd::collectives::algorithms {

Fold::Fold(int p) : active_(static_cast<int>(std::bit_floor(static_cast<unsigned>(p)))), extra_(p - active_) {}

int Fold::folded_rank(int rank) const {
  if (!in_pair(rank)) return rank - extra_;
  return rank % 2 == 1 ? rank / 2 : -1;
}

int Fold::group_rank(int folded) const { return folded < extra_ ? 2 * folded + 1 : folded + extra_; }

}  // namespace spmd::collectives::algorithms
