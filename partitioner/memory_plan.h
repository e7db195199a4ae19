// A liveness-based memory plan: every value that does not live across steps gets an offset
// in one arena, reusing the space of values that are dead by the time it is made.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace spmd::partitioner {

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
// and Lee 2020). Costs O(n^2) in the number of transient values. `live_until[v]`, where
// given, is a node index the buffer of v must outlive at least (an asynchronous
// collective's operand and result, until the runtime waits for it). Each of `groups` (transient, unaliased values)
// is laid out side by side in its order, each member at a whole number of cache lines,
// and held as one buffer for all of their lifetimes.
MemoryPlan plan_memory(const ir::Graph& g, const std::vector<bool>& transient,
                       const std::vector<ir::ValueId>& alias, const std::vector<int>& live_until = {},
                       const std::vector<std::vector<ir::ValueId>>& groups = {});

// The memory of a whole training-step program, as the executor lays it out: sources,
// outputs and updates own buffers that live across steps; a reshape is a view of its
// operand; an optimizer op rewriting its own param or state (with no later reader of the
// old value) writes in place, and so does a collective of its operand's size that is its
// last reader; everything else shares the arena. A collective runs
// asynchronously: its operand and result stay live until the runtime waits for it
// (schedule.h's collective_wait_points). A bucket's gradients, or else its results, lie
// side by side as its flat buffer where they can (bucket_views).
struct ProgramMemory {
  std::vector<ir::ValueId> alias;   // per value: the value whose buffer it shares, or -1
  // Per value: whether a collective moves its buffer (the buffer is some collective's
  // operand or result): what peers of a node may load and store.
  std::vector<bool> moved;
  // Planned with PeerBuffers::apart: the arena's first bytes, which hold the moved buffers
  // and no other; 0 otherwise.
  size_t moved_bytes = 0;
  std::vector<bool> owned;          // per value: has a buffer of its own, kept across steps
  std::vector<std::pair<ir::ValueId, ir::ValueId>> copies;  // (target, value) updates not in place
  // Per collective: its operand's buffer is the arena's and nothing reads it after the
  // collective (or the collective writes its result over it), which may work in it
  // (Redistributor::run_consuming) rather than in a copy.
  std::vector<bool> consumed;
  MemoryPlan arena;
  size_t persistent_bytes = 0;      // the owned buffers
  size_t peak_bytes() const { return persistent_bytes + arena.arena_bytes; }
  // The value whose buffer `v`'s bytes are: v itself, or the end of its chain of aliases.
  ir::ValueId buffer_of(ir::ValueId v) const;
  // Owned bytes of the values whose node has op `op` ("param", "state", "input").
  size_t owned_bytes(const ir::Graph& g, const std::string& op) const;
};

// Where the arena's buffers lie: anywhere, or the moved ones apart, first (so that the
// executor can put those alone in node-shared memory, on small pages, and compute on the
// rest in private huge pages). Apart, a moved buffer never reuses an unmoved one's space,
// so the arena may be larger.
enum class PeerBuffers { anywhere, apart };

// Cost: one pass over the graph plus plan_memory (twice, apart). Allocates nothing:
// planning a step for a model too big for this machine is fine.
ProgramMemory plan_program_memory(const ir::Graph& g, PeerBuffers peers = PeerBuffers::anywhere);
// As the executor plans it on devices of `apart` (DeviceModel::moved_buffers_apart).
inline ProgramMemory plan_program_memory(const ir::Graph& g, bool apart) {
  return plan_program_memory(g, apart ? PeerBuffers::apart : PeerBuffers::anywhere);
}

// Per node: whether it is a collective plan_program_memory writes over its operand's
// buffer (what a redistribution on one device then copies: nothing). O(graph), no arena
// planned.
std::vector<bool> collectives_in_place(const ir::Graph& g);

// Per node: ProgramMemory::consumed (a collective that may work in its operand's buffer),
// without the arena planned. O(graph).
std::vector<bool> collectives_consuming(const ir::Graph& g);

// Which of a bucket's buffers (bucket.h) plan_program_memory lays side by side as the flat
// one its collective works on. `operands`: an all-reduce bucket's gradients, each result
// over its operand, reduced where they lie (nothing packed or unpacked); `results`: its
// members' results, which the collective writes at once (nothing unpacked).
enum class BucketView { operands, results };

// The first member of each bucket laid out so, and how; the runtime and the simulator copy
// (and cost) only what the layout leaves. O(graph), no arena planned.
std::vector<std::pair<ir::ValueId, BucketView>> bucket_views(const ir::Graph& g);

}  // namespace spmd::partitioner
