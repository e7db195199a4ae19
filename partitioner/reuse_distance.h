// How far back a step last touched each buffer an op reads or writes: the LRU stack distance
// of Mattson, Gecsei, Slutz and Traiger, "Evaluation techniques for storage hierarchies"
// (IBM Systems Journal, 1970), in bytes. A buffer touched again after fewer distinct bytes
// than a cache holds is still in it; one touched after more comes from the next level, and a
// result written over arena space last used long ago reads its lines in first. The cost
// model prices each operand and result at the memory rate of that much data (cost_model.h):
// a residual add that reads a tensor made a whole attention block ago, into space freed as
// long ago, pays what the rate beyond the caches says; one that reads the previous op's
// result into space just freed, what the caches do.
#pragma once

#include <cstddef>
#include <vector>

#include "ir/graph.h"
#include "partitioner/memory_plan.h"

namespace spmd::partitioner {

// The distances of every operand and result of every node of a per-device program, laid out
// by `memory` (plan_program_memory(g)), as a step finds them when steps run one after
// another: a parameter a step reads first was last written by the previous step's update,
// and the runtime writes the fed inputs just before each step. Buffers of their own count
// whole; the arena counts by blocks of at least 4 KiB (about 2,048 of them), so that a result
// reusing part of a dead value's space finds that part's last touch. A view touches its
// operand's buffer; a collective reads its operands and writes its result as a kernel does.
// O(blocks touched x log), built once per program.
//
// `read_by_peers`, where given, says per node whether processes of other devices read its
// operands where they lie (a collective between devices that hands them over as they are):
// a result laid over such bytes before anything else wrote them pays for invalidating the
// peers' copies (device_model.h's peer_rewrite_Bps).
class ReuseDistances {
 public:
  ReuseDistances(const ir::Graph& g, const ProgramMemory& memory, const std::vector<bool>& read_by_peers = {});
  // The distinct bytes the step touched between operand `input` of node `v`'s last touch
  // and this read (its own bytes not counted).
  double operand(ir::ValueId v, size_t input) const { return distances_[first_[static_cast<size_t>(v)] + input]; }
  // The same for the buffer node `v` writes its result into.
  double result(ir::ValueId v) const { return distances_[first_[static_cast<size_t>(v) + 1] - 1]; }
  // The bytes of the buffer node `v` writes its result into that peers read since they
  // were last written (0 without read_by_peers).
  double rewritten_after_peers(ir::ValueId v) const { return peer_bytes_.empty() ? 0 : peer_bytes_[static_cast<size_t>(v)]; }

 private:
  std::vector<size_t> first_;      // per node: where its distances start (operands, then result)
  std::vector<double> distances_;
  std::vector<double> peer_bytes_;  // per node, where read_by_peers was given
};

}  // namespace spmd::partitioner
