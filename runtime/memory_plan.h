// A liveness-based memory plan: every value that does not live across steps gets an offset
// in one arena, reusing the space of values that are dead by the time it is made.
#pragma once

#include <cstddef>
#include <vector>

#include "ir/graph.h"

namespace spmd::runtime {

struct MemoryPlan {
  static constexpr size_t kAlignment = 64;  // one cache line; what oneDNN prefers
  std::vector<ptrdiff_t> offset;  // per value: offset in the arena, or -1 (owned elsewhere)
  size_t arena_bytes = 0;         // the arena's size: the planned peak of transient values
  size_t naive_bytes = 0;         // what one buffer per transient value would take
};

// Plans the values for which `transient[v]` is true; `alias[v]` >= 0 makes v share the
// buffer of that (earlier) value (a reshape is a view), extending its lifetime.
// Greedy by size, first fit among buffers with overlapping lifetimes (the arena planner of
// TensorFlow Lite, "Efficient Memory Management for Deep Neural Net Inference", Pisarchyk
// and Lee 2020). Costs O(n^2) in the number of transient values.
MemoryPlan plan_memory(const ir::Graph& g, const std::vector<bool>& transient,
                       const std::vector<ir::ValueId>& alias);

}  // namespace spmd::runtime
