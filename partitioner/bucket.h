// Gradient buckets: consecutive all-reduces of the scheduled program (a partial sum made
// whole, its sharding otherwise unchanged, over the same mesh axes) fused into one
// collective over their concatenation, as PyTorch DDP's buckets (Li et al., "PyTorch
// Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020): one
// collective's fixed cost instead of one per gradient, at the price of the first gradient
// waiting for the bucket to fill. ZeRO's reduce-scatters (a partial sum made whole and
// split over the same axes along dimension 0) bucket the same way, their blocks
// interleaved so one flat reduce-scatter leaves each device its block of every member, as
// FSDP's flat parameters (Zhao et al., "PyTorch FSDP", VLDB 2023); and ZeRO's gathers of
// params (split along dimension 0 over axes they are gathered from) into one flat
// all-gather, each device's block of it its shard of every member side by side, as FSDP
// gathers a layer's flat parameter at once. The cost model chooses the bucket size.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "collectives/layout.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

// Whether node `v` is a collective a bucket may take: a redistribute of a computed value
// from a partial sum to the same sharding, not partial (an all-reduce), or to the same
// sharding with the partial axes added to dimension 0's (a reduce-scatter along dim 0); or
// of a param to the same sharding with the last axes of dimension 0's removed (an
// all-gather along dim 0). O(its layout's text).
bool bucketable(const ir::Graph& g, ir::ValueId v);

// `p` with its bucketable collectives grouped, in program order, into buckets of at most
// `bucket_bytes` (per device, the operands' bytes; a larger one is a bucket of its own) of
// one kind over the same axes: the members of a bucket move to just after its last
// member's producer (a bucket of gathers: to its first member's place, params being
// there from the start), side by side, each with the attribute `bucket` (the bucket's
// index), so the runtime issues them as one collective and the simulator costs them so. A
// bucket of reductions closes early where an op reads a member's result. 0 leaves `p` as
// it is. Cost: O(nodes).
Program bucket_gradients(Program p, double bucket_bytes);

// The one collective a bucket runs as: its members (the consecutive nodes marked with the
// bucket of `first`, its first member), and the flat collective over the same axes of a
// buffer of `blocks` blocks, block b holding every member's b-th block of rows side by
// side (one block for an all-reduce: the operands side by side). Device i of the
// reduce-scatter's group keeps block i: each member's result, side by side. A gather's
// flat buffer is its result: device i gives block i, each member's operand side by side,
// and gets every block. O(members).
struct BucketCollective {
  std::vector<ir::ValueId> members;
  bool gathers = false;         // a bucket of all-gathers (else of reductions)
  int64_t blocks = 1;           // the devices a reduce-scatter splits over, an all-gather gathers from
  std::vector<int64_t> global;  // {floats of all members' operands}, or results' for gathers
  collectives::Layout from, to;
  size_t bytes = 0;             // per device: the larger of input and output, as a record's
};
BucketCollective bucket_at(const ir::Graph& g, ir::ValueId first);

// Whether node `v` is a member of a bucket after its first, issued with the one before it
// as part of one collective. O(1).
bool joins_previous_in_bucket(const ir::Graph& g, ir::ValueId v);

// The bucket sizes bucket_size() tries: none (0), then 256 KiB to 64 MiB by fourfold steps.
std::vector<double> bucket_sizes_tried();

// The bucket size under which `p` simulates fastest on `device` with `costs` (collectives
// overlapping compute, or blocking: `overlap`) among those whose peak stays within
// `memory_limit` bytes (none when <= 0), 0 when no bucket helps: overlapped, a bucket waits
// for its last member and hides behind less; either way it pays one latency for all. Where `chosen` is given and sizes were tried, the chosen size's prediction
// goes there (else it is left alone). Cost: one bucketing and simulation per size tried,
// none when `p` has fewer than two bucketable collectives.
double bucket_size(const Program& p, const DeviceModel& device, CollectiveCosts& costs, std::int64_t memory_limit = 0,
                   std::optional<Prediction>* chosen = nullptr, bool overlap = true);

}  // namespace spmd::partitioner
