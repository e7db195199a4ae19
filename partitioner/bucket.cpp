#include "partitioner/bucket.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "collectives/layout.h"
#include "common/error.h"
#include "ir/ops.h"
#include "partitioner/memory_plan.h"
#include "partitioner/schedule.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

namespace {

// What a bucketable collective is: its partial axes, and the axes its result adds to
// dimension 0 (none for an all-reduce); or, for a gather of a param, the axes it removes
// from dimension 0. nullopt when no bucket may take it.
struct Kind {
  std::vector<int> partial, scattered, gathered;
  bool operator==(const Kind&) const = default;
  bool gathers() const { return !gathered.empty(); }
};

// A param's all-gather along dimension 0: its sharding otherwise unchanged, nothing partial,
// dimension 0's axes a prefix of what they were (ZeRO's, FSDP's gathers of params).
std::optional<Kind> gather_kind(const collectives::Layout& from, const collectives::Layout& to) {
  if (!from.partial.empty() || !to.partial.empty() || from.dims.empty() || from.dims.size() != to.dims.size()) {
    return std::nullopt;
  }
  if (!std::equal(from.dims.begin() + 1, from.dims.end(), to.dims.begin() + 1)) return std::nullopt;
  const std::vector<int>& before = from.dims[0];
  const std::vector<int>& after = to.dims[0];
  if (after.size() >= before.size() || !std::equal(after.begin(), after.end(), before.begin())) return std::nullopt;
  return Kind{{}, {}, std::vector<int>(before.begin() + static_cast<ptrdiff_t>(after.size()), before.end())};
}

std::optional<Kind> kind_of(const ir::Graph& g, ir::ValueId v) {
  const ir::Node& n = g.node(v);
  if (!ir::op_traits(n.op).collective) return std::nullopt;
  const ir::Node& operand = g.node(n.inputs.at(0));
  const collectives::Layout from = collectives::decode_layout(n.attrs.s("from"));
  const collectives::Layout to = collectives::decode_layout(n.attrs.s("to"));
  // A param is there from the start: its gather may move earlier, to its bucket's first.
  if (operand.is_source()) return n.inputs.size() == 1 ? gather_kind(from, to) : std::nullopt;
  if (ir::op_traits(operand.op).collective) return std::nullopt;
  if (from.partial.empty() || !to.partial.empty() || from.dims.size() != to.dims.size()) return std::nullopt;
  if (from.dims == to.dims) return Kind{from.partial, {}, {}};
  if (!std::equal(from.dims.begin() + 1, from.dims.end(), to.dims.begin() + 1)) return std::nullopt;
  const std::vector<int>& before = from.dims[0];
  const std::vector<int>& after = to.dims[0];
  if (after.size() != before.size() + from.partial.size() || !std::equal(before.begin(), before.end(), after.begin())) {
    return std::nullopt;
  }
  std::vector<int> scattered(after.begin() + static_cast<ptrdiff_t>(before.size()), after.end());
  std::vector<int> sorted_partial = from.partial, sorted_scattered = scattered;
  std::sort(sorted_partial.begin(), sorted_partial.end());
  std::sort(sorted_scattered.begin(), sorted_scattered.end());
  if (sorted_partial != sorted_scattered) return std::nullopt;  // every partial axis splits dim 0
  return Kind{from.partial, scattered, {}};
}

size_t operand_bytes(const ir::Graph& g, ir::ValueId v) {
  return std::max(g.type(g.node(v).inputs.at(0)).bytes(), g.type(v).bytes());
}

}  // namespace

bool bucketable(const ir::Graph& g, ir::ValueId v) { return kind_of(g, v).has_value(); }

bool joins_previous_in_bucket(const ir::Graph& g, ir::ValueId v) {
  const int64_t bucket = g.node(v).attrs.i("bucket", -1);
  return bucket >= 0 && v > 0 && g.node(v - 1).attrs.i("bucket", -1) == bucket;
}

namespace {

// Each node's bucket (-1 for none), and each bucket's members in program order: greedy in
// program order, a bucket closing when the next member's kind differs, when it would
// outgrow `bucket_bytes`, or, for a bucket of reductions (`gathers` false), where an op
// reads one of its members (a bucket of param gathers runs at its first member, before
// any reader).
struct Buckets {
  std::vector<int> of;
  std::vector<std::vector<ir::ValueId>> members;
  std::vector<bool> gathers;  // per bucket
};

void group(const ir::Graph& g, const std::vector<std::optional<Kind>>& kinds, double bucket_bytes, bool gathers,
           Buckets& b) {
  std::vector<ir::ValueId> open;
  Kind open_kind;
  double open_bytes = 0;
  auto close = [&] {
    if (open.size() > 1) {
      for (ir::ValueId m : open) b.of[m] = static_cast<int>(b.members.size());
      b.members.push_back(open);
      b.gathers.push_back(gathers);
    }
    open.clear();
    open_bytes = 0;
  };
  std::vector<char> in_open(g.nodes.size(), 0);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    std::optional<Kind> kind = kinds[v];
    if (kind && kind->gathers() != gathers) kind.reset();
    const double bytes = kind ? static_cast<double>(operand_bytes(g, v)) : 0;
    if (kind && bytes < bucket_bytes) {
      if (!open.empty() && (*kind != open_kind || open_bytes + bytes > bucket_bytes)) close();
      open.push_back(v);
      in_open[v] = 1;
      open_kind = *kind;
      open_bytes += bytes;
      continue;
    }
    if (gathers) continue;
    for (ir::ValueId x : g.node(v).inputs) {
      if (in_open[x]) {
        close();
        break;
      }
    }
  }
  close();
}

}  // namespace

Program bucket_gradients(Program p, double bucket_bytes) {
  if (bucket_bytes <= 0) return p;
  std::vector<std::optional<Kind>> kinds(p.graph.nodes.size());
  for (ir::ValueId v = 0; v < p.graph.size(); ++v) kinds[v] = kind_of(p.graph, v);
  Buckets b{std::vector<int>(p.graph.nodes.size(), -1), {}, {}};
  group(p.graph, kinds, bucket_bytes, false, b);
  group(p.graph, kinds, bucket_bytes, true, b);
  if (b.members.empty()) return p;
  std::vector<ir::ValueId> order;
  order.reserve(p.graph.nodes.size());
  for (ir::ValueId v = 0; v < p.graph.size(); ++v) {
    const int bucket = b.of[v];
    if (bucket < 0) {
      order.push_back(v);
      continue;
    }
    // A reduction's bucket goes where its last member's operand is ready; a gather's where
    // its first member was.
    const std::vector<ir::ValueId>& members = b.members[bucket];
    if (members[b.gathers[bucket] ? 0 : members.size() - 1] == v) {
      for (ir::ValueId m : members) {
        p.graph.nodes[m].attrs.set("bucket", static_cast<int64_t>(bucket));
        order.push_back(m);
      }
    }
  }
  return in_order(std::move(p), order);
}

BucketCollective bucket_at(const ir::Graph& g, ir::ValueId first) {
  const int64_t bucket = g.node(first).attrs.i("bucket");
  const std::optional<Kind> kind = kind_of(g, first);
  if (!kind) throw InternalError(ir::value_label(g, first) + " is marked as a bucket's member but cannot be one");
  BucketCollective b;
  int64_t floats = 0;
  for (ir::ValueId m = first; m < g.size() && g.node(m).attrs.i("bucket", -1) == bucket; ++m) {
    b.members.push_back(m);
    b.bytes += operand_bytes(g, m);
    floats += g.type(g.node(m).inputs.at(0)).numel();
  }
  if (kind->gathers()) {  // the flat buffer is the results': each member's operand a block of it
    b.gathers = true;
    b.blocks = g.type(first).numel() / std::max<int64_t>(1, g.type(g.node(first).inputs.at(0)).numel());
    b.global = {floats * b.blocks};
    b.from = {{kind->gathered}, {}};
    b.to = {{{}}, {}};
    return b;
  }
  b.blocks = g.type(g.node(first).inputs.at(0)).numel() / std::max<int64_t>(1, g.type(first).numel());
  b.global = {floats};
  b.from = {{{}}, kind->partial};  // one dimension, split over no axis
  b.to = {{kind->scattered}, {}};
  return b;
}

std::vector<double> bucket_sizes_tried() {
  std::vector<double> sizes{0};
  for (double s = 256.0 * 1024; s <= 64.0 * 1024 * 1024; s *= 4) sizes.push_back(s);
  return sizes;
}

double bucket_size(const Program& p, const DeviceModel& device, CollectiveCosts& costs, std::int64_t memory_limit,
                   std::optional<Prediction>* chosen, bool overlap) {
  int bucketable_collectives = 0;
  for (const CollectiveRecord& r : p.collectives) bucketable_collectives += bucketable(p.graph, r.at) ? 1 : 0;
  if (bucketable_collectives < 2) return 0;
  double best = 0, best_s = std::numeric_limits<double>::infinity();
  for (double size : bucket_sizes_tried()) {
    const Program bucketed = bucket_gradients(p, size);
    Prediction prediction = simulate_time(bucketed, device, costs, overlap);
    if (!(prediction.step_time_s < best_s * (1 - 1e-9))) continue;  // a larger one must gain
    prediction.peak_bytes = plan_program_memory(bucketed.graph, device.moved_buffers_apart).peak_bytes();  // only for a size that would win
    if (memory_limit > 0 && prediction.peak_bytes > static_cast<size_t>(memory_limit) && size > 0) continue;
    best = size, best_s = prediction.step_time_s;
    if (chosen) *chosen = prediction;
  }
  return best;
}

}  // namespace spmd::partitioner
