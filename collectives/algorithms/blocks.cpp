#include "collectives/algorithms/blocks.h"

#include <algorithm>

namespace spmd::collectives::algorithms {

BlockOffsets BlockOffsets::of(const Partition& partition) {
  std::vector<int64_t> offsets(partition.p + 1);
  for (int i = 0; i <= partition.p; ++i) offsets[i] = i < partition.p ? partition.offset(i) : partition.n;
  return BlockOffsets(std::move(offsets));
}

int64_t BlockOffsets::largest() const {
  int64_t largest = 0;
  for (int i = 0; i < blocks(); ++i) largest = std::max(largest, offsets_[i + 1] - offsets_[i]);
  return largest;
}

}  // namespace spmd::collectives::algorithms
