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
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/layout.h"
#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "common/host_memory.h"

namespace spmd::launcher {
class Topology;
}

namespace spmd::collectives {

struct RedistributionStep {
  enum class Kind { reduce_scatter, all_reduce, all_to_all, all_gather, slice, make_partial } kind;
  int axis = 0;     // the mesh axis it runs along
  int dim = -1;     // the tensor dimension split or gathered (all-to-all: the one gathered)
  int to_dim = -1;  // all-to-all: the dimension newly split
  std::string describe() const;
};

// The collective a communicating step runs (slice and make_partial move no data and cost
// nothing; they map to all-reduce only so that every kind has an answer).
Primitive primitive_of(RedistributionStep::Kind kind);

// The steps from `from` to `to`, in the order they run. Cost: O(axes x dims) steps.
std::vector<RedistributionStep> plan_redistribution(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                                    const Layout& from, const Layout& to);

// The one step of a redistribution of a flat buffer (`global` of one dimension) that is a
// single all-gather or reduce-scatter along one axis: what a bucket runs over its members
// where they lie (Redistributor::run_pieces) rather than packed. std::nullopt for anything
// else. Cost: that of plan_redistribution.
std::optional<RedistributionStep> single_gather_or_scatter(const std::vector<int64_t>& global,
                                                           const std::vector<int>& mesh, const Layout& from,
                                                           const Layout& to);

// Runs redistributions on this rank over `world` (one rank per mesh device, in mesh order).
// The communicators of the mesh axes are split from `world` once, on first use, and kept.
// Each collective along an axis runs the schedule synthesized for that axis's devices on
// `topology` (device i = rank i of world) when one is given, else the algorithm that the
// cost model ranks first on a flat link; the choice is kept per (axis, primitive, size).
class Redistributor {
 public:
  Redistributor(Communicator& world, std::vector<int> mesh, const launcher::Topology* topology = nullptr);
  ~Redistributor();
  Redistributor(const Redistributor&) = delete;
  Redistributor& operator=(const Redistributor&) = delete;

  // `in` is this rank's shard under `from`; `out` receives its shard under `to` (both
  // row-major, sized by local_shape). Collective over `world`. One run at a time: the
  // runs share this object's scratch (the runtime runs them all on one stream). `in` may
  // be `out` itself.
  void run(const std::vector<int64_t>& global, const Layout& from, const Layout& to, std::span<const float> in,
           std::span<float> out);
  // As run, where `in` is the caller's to lose (a packed bucket, a gradient nothing reads
  // after, or `out` itself): a step that works in place (a reduce-scatter's sum, an
  // all-reduce) works in it rather than in a copy of it.
  void run_consuming(const std::vector<int64_t>& global, const Layout& from, const Layout& to, std::span<float> in,
                     std::span<float> out);
  // A bucket's redistribution (runtime/executor.h) of a flat buffer whose blocks lie in
  // pieces: true, and run, where it is one all-gather (`in` this rank's block, `out` one
  // block per rank of the axis) or one reduce-scatter (`in` one block per rank, summed into
  // in place; `out` this rank's) along one axis, with the algorithm chosen for a buffer in
  // pieces at that size (synthesize.h's best_schedule_over_pieces; primitives.h's
  // all_gather_pieces). Anything else: false, nothing done; the
  // caller packs the buffer for run().
  bool run_pieces(const std::vector<int64_t>& global, const Layout& from, const Layout& to, std::span<const Pieces> in,
                  std::span<const Pieces> out);

 private:
  struct Axis;
  Axis& along(int axis);
  void all_reduce(int axis, std::span<float> data);
  // The algorithm of `primitive` along `axis` at `bytes`, for a flat buffer or, `over_pieces`,
  // one lying in pieces. Chosen once per size.
  Algorithm choose(int axis, const std::string& primitive, double bytes, bool over_pieces = false);
  // Where a step writes `n` floats: `out` for the last step's result when it fits and is not
  // read, else a scratch buffer none of `still_read` lies in.
  std::span<float> buffer(size_t n, std::span<float> out, bool last,
                          std::initializer_list<std::span<const float>> still_read);
  bool owned(std::span<const float> span) const;  // lies in a scratch buffer or in the run's consumable input
  // `span` where it may be written: in place when it is scratch or the run's consumable
  // input, else copied into scratch.
  std::span<float> writable(std::span<const float> span);

  Communicator& world_;
  std::vector<int> mesh_, coords_;
  const launcher::Topology* topology_;
  std::vector<std::unique_ptr<Axis>> axes_;
  // Staging kept from run to run: once warm a redistribution allocates nothing (a fresh
  // page faults in on first touch; at a few hundred KiB the faults cost more than the
  // transfer). Grows to the largest run's needs, in huge pages as the communicator's own
  // transfer buffers (common/host_memory.h).
  struct Scratch {
    HostFloats data;
    size_t size = 0;
    std::span<float> span() const { return {data.get(), size}; }
  };
  Scratch scratch_[3];
  std::span<float> consumable_;  // run_consuming's input, while it runs
};

// One redistribution with a Redistributor of its own (splits the axis communicators anew).
void redistribute(Communicator& world, const std::vector<int64_t>& global, const std::vector<int>& mesh,
                  const Layout& from, const Layout& to, std::span<const float> in, std::span<float> out);

}  // namespace spmd::collectives
