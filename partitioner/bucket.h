// Gradient buckets: consecutive all-reduces of the scheduled program (a partial sum made
// whole, its sharding otherwise unchanged, over the same mesh axes) fused into one
// collective over their concatenation, as PyTorch DDP's buckets (Li et al., "PyTorch
// Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020): one
// collective's fixed cost instead of one per gradient, at the price of the first gradient
// waiting for the bucket to fill. The cost model chooses the bucket size.
#pragma once

#include <vector>

#include "collectives/layout.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"

namespace spmd::partitioner {

// Whether node `v` is an all-reduce a bucket may take: a redistribute of a computed value
// from a partial sum to the same sharding, not partial. O(its layout's text).
bool bucketable(const ir::Graph& g, ir::ValueId v);

// `p` with its bucketable all-reduces grouped, in program order, into buckets of at most
// `bucket_bytes` (per device; a larger one is a bucket of its own) over the same axes: the
// members of a bucket move to just after its last member's producer, side by side, each
// with the attribute `bucket` (the bucket's index), so the runtime issues them as one
// collective and the simulator costs them so. A bucket closes early where an op reads a
// member's result. 0 leaves `p` as it is. Cost: O(nodes).
Program bucket_all_reduces(Program p, double bucket_bytes);

// The one collective a bucket runs as: its members (the consecutive nodes marked with the
// bucket of `first`, its first member), and the flat all-reduce of their buffers side by
// side over the same axes. O(members).
struct BucketCollective {
  std::vector<ir::ValueId> members;
  std::vector<int64_t> global;  // {floats of all members}
  collectives::Layout from, to;
  size_t bytes = 0;
};
BucketCollective bucket_at(const ir::Graph& g, ir::ValueId first);

// The bucket sizes bucket_size() tries: none (0), then 256 KiB to 64 MiB by fourfold steps.
std::vector<double> bucket_sizes_tried();

// The bucket size under which `p` simulates fastest on `device` with `costs` (overlap on),
// 0 when no bucket helps. Cost: one bucketing and simulation per size tried.
double bucket_size(const Program& p, const DeviceModel& device, CollectiveCosts& costs);

}  // namespace spmd::partitioner
