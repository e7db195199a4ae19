// SPMD lowering: the global training step and a Plan become the per-device program that
// every rank runs. Each op computes on local shards; where an operand's planned sharding is
// not what the op's sharding rule needs (a replicated factor, a param gathered for use under
// ZeRO), or where the op leaves its result otherwise than planned (a partial sum from a
// sharded reduction factor), a `redistribute` op makes the move explicit. Every such
// collective records why it is there.
#pragma once

#include <string>
#include <vector>

#include "collectives/layout.h"
#include "ir/graph.h"
#include "partitioner/plan.h"

namespace spmd::partitioner {

class FactorTable;

struct CollectiveRecord {
  ir::ValueId at;           // the redistribute node in the per-device program
  std::string value;        // the global value it moves, e.g. "%layer0.mlp.w_in"
  std::string from, to;     // shardings, as sharding_text
  std::string steps;        // the collectives, e.g. "all-reduce along model"
  size_t bytes = 0;         // per device: the larger of its input and output shards
  std::string reason;       // the op and operand whose shardings met, and the tactic behind it
  std::vector<int64_t> global;                  // the value's shape
  collectives::Layout from_layout, to_layout;   // the shardings, as layouts
};

struct Program {
  ir::Graph graph;  // local types; sources carry `global` and `layout`; meta `mesh`
  std::vector<CollectiveRecord> collectives;
  int recomputed = 0;  // ops copied to recompute activations for backward (rematerialize())
};

// Cost: one pass over the graph. Throws spmd::Error when a sharding does not divide its value.
// With plan.rematerialize, the result of rematerialize() below; then scheduled for overlap
// (schedule.h).
// `table` (factors.h), when given, holds `g`'s op factors, so they are not computed again.
Program lower(const ir::Graph& g, const Plan& plan, const FactorTable* table = nullptr);
// lower() in two stages, for the search, which lowers a plan once for its twins with and
// without recomputation: the ops and collectives, then rematerialization and scheduling.
Program lower_ops(const ir::Graph& g, const Plan& plan, const FactorTable* table = nullptr);
Program finish_lowering(const Program& lowered, bool rematerialize, int prefetch = 1);

// `p` recomputing activations for backward (ir/rematerialize.h). It runs on the per-device
// program, so a recomputed segment repeats its collectives too (Megatron's all-reduces,
// ZeRO's gathers of params); their records say "recomputed for backward". Cost: O(nodes).
Program rematerialize(const Program& p);
// rematerialize(p) into `storage` and a reference to it when `recompute`, else `p` itself
// (no copy): for callers that schedule one unscheduled program several ways.
const Program& rematerialized_if(const Program& p, bool recompute, Program& storage);

}  // namespace spmd::partitioner
