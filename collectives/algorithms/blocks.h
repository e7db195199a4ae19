// Views of a buffer cut into blocks: partition(n, p) blocks for the primitives, and the
// contiguous ranges of blocks the recursive algorithms exchange.
#pragma once

#include <span>
#include <vector>

#include "collectives/primitives.h"

namespace spmd::collectives::algorithms {

// Element offsets of consecutive blocks: block i is [offset[i], offset[i+1]).
class BlockOffsets {
 public:
  explicit BlockOffsets(std::vector<int64_t> offsets) : offsets_(std::move(offsets)) {}
  static BlockOffsets of(const Partition& partition);

  int blocks() const { return static_cast<int>(offsets_.size()) - 1; }
  int64_t largest() const;
  // Blocks [first, first + count) as one contiguous range of `data`.
  template <class T>
  std::span<T> range(std::span<T> data, int first, int count) const {
    return data.subspan(offsets_[first], offsets_[first + count] - offsets_[first]);
  }
  template <class T>
  std::span<T> block(std::span<T> data, int i) const { return range(data, i, 1); }

 private:
  std::vector<int64_t> offsets_;
};

inline int mod(int a, int p) { return ((a % p) + p) % p; }

}  // namespace spmd::collectives::algorithms
