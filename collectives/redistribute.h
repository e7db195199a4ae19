// Redistribution: turn a tensor laid out over a device mesh one way into another layout, as
// a sequence of collectives along single mesh axes and local slicing (the type-directed
// synthesis of array redistributions; the collectives are those of OneFlow's split /
// broadcast / partial-sum conversions):
//   partial over a  -> split over a on dim d : reduce-scatter along a
//   partial over a  -> replicated over a     : all-reduce along a
//   split d over a  -> split e over a        : all-to-all along a
//   split d over a  -> replicated over a     : all-gather along a
//   replicated      -> split d over a        : local slice (no communication)
//   replicated      -> partial over a        : keep the value on coordinate 0 of a, zeros elsewhere
// Steps that shrink the shard run first and gathers last, so no device ever holds more than
// the larger of its input and output shards plus one buffer of that size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/layout.h"

namespace spmd::collectives {

struct RedistributionStep {
  enum class Kind { reduce_scatter, all_reduce, all_to_all, all_gather, slice, make_partial } kind;
  int axis = 0;     // the mesh axis it runs along
  int dim = -1;     // the tensor dimension split or gathered (all-to-all: the one gathered)
  int to_dim = -1;  // all-to-all: the dimension newly split
  std::string describe() const;
};

// The steps from `from` to `to`, in the order they run. Cost: O(axes x dims) steps.
std::vector<RedistributionStep> plan_redistribution(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                                    const Layout& from, const Layout& to);

// Runs the plan on this rank: `in` is its shard under `from`, `out` receives its shard under
// `to` (both row-major, sized by local_shape). `world` has one rank per mesh device, in
// mesh order. Collective over `world`; the per-axis communicators are split from it.
void redistribute(Communicator& world, const std::vector<int64_t>& global, const std::vector<int>& mesh,
                  const Layout& from, const Layout& to, std::span<const float> in, std::span<float> out);

}  // namespace spmd::collectives
