// Scheduling for overlap: the per-device program issues each collective as soon as its
// operand is final, so that the runtime, which runs collectives asynchronously
// (runtime/executor.h) and waits only where their results are read, overlaps them with the
// compute that follows: data parallelism's gradient reductions go out during backward, layer
// by layer in reverse (PyTorch DDP's overlap, Li et al. 2020, without its buckets). A
// collective of a source (ZeRO's gather of a param) is prefetched one ahead: issued where
// lowering put the one before it (just before that one's first use), so it runs while that
// use computes, as FSDP prefetches; hoisting it further would keep every gathered param
// alive for the whole step.
#pragma once

#include "partitioner/lower.h"

namespace spmd::partitioner {

// `p` with each collective of a computed operand moved to just after that operand's
// producer (after any collective already there), and each collective of a source issued
// `prefetch` slots ahead among those (1: while the op reading the one before computes; 0:
// at its own first use); every rank issues them alike. Cost: O(nodes); the nodes are moved
// out of `p`, so passing a temporary copies none.
Program schedule_for_overlap(Program p, int prefetch = 1);

// `p` with its nodes in `order` (a permutation that keeps every operand before its users),
// operands, outputs, updates and collective records renumbered. Cost: O(nodes).
Program in_order(Program p, const std::vector<ir::ValueId>& order);

// How many collectives of computed operands (gradient reductions, a bucket counting once)
// may be in flight: the runtime waits for each before it issues the one this many after
// it. A reduce-scatter's result is read only by the optimizer at the step's end, and
// without a bound every layer's whole gradient would stay live until then (a 96-layer
// gpt at d_model 12288 on data 64 x model 16 planned 40 GiB of them per GPU). The
// communication stream runs them in order, so by the time the second after it is issued
// one has usually finished, and two keep that stream fed (FSDP bounds its gathers to two
// in flight likewise, Zhao et al. 2023).
inline constexpr int kReductionsInFlight = 2;

// Per node of `g`: for a collective of a computed operand (not a source), the node that
// issues the kReductionsInFlight-th such collective after it (a bucket's first member),
// before which the runtime waits for it; g.size() when there is none; -1 for other nodes.
// Cost: one pass over the graph.
std::vector<ir::ValueId> in_flight_limits(const ir::Graph& g);

// Per node of `g`: for a collective, where the runtime must have finished it: the first
// later node, not a collective (the communication stream runs them in order), that reads
// its result (through any view) or writes its operand's or its result's bytes (an in-place
// update), or its in-flight limit (in_flight_limits), whichever comes first; g.size() when
// none does before the step ends; -1 for other nodes. `alias` is the memory plan's (view
// -> viewed value). Cost: one pass over the graph.
std::vector<ir::ValueId> collective_wait_points(const ir::Graph& g, const std::vector<ir::ValueId>& alias);

}  // namespace spmd::partitioner
