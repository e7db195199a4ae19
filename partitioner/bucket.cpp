#include "partitioner/bucket.h"

#include <limits>

#include "collectives/layout.h"
#include "ir/ops.h"
#include "partitioner/schedule.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

bool bucketable(const ir::Graph& g, ir::ValueId v) {
  const ir::Node& n = g.node(v);
  if (!ir::op_traits(n.op).collective) return false;
  const ir::Node& operand = g.node(n.inputs.at(0));
  if (operand.is_source() || ir::op_traits(operand.op).collective) return false;
  const collectives::Layout from = collectives::decode_layout(n.attrs.s("from"));
  const collectives::Layout to = collectives::decode_layout(n.attrs.s("to"));
  return !from.partial.empty() && to.partial.empty() && from.dims == to.dims;
}

namespace {

// Each node's bucket (-1 for none), and each bucket's members in program order: greedy in
// program order, a bucket closing when the next member's axes differ, when it would
// outgrow `bucket_bytes`, or where an op reads one of its members.
struct Buckets {
  std::vector<int> of;
  std::vector<std::vector<ir::ValueId>> members;
};

Buckets group(const ir::Graph& g, double bucket_bytes) {
  Buckets b{std::vector<int>(g.nodes.size(), -1), {}};
  std::vector<ir::ValueId> open;
  std::string open_axes;
  double open_bytes = 0;
  auto close = [&] {
    if (open.size() > 1) {
      for (ir::ValueId m : open) b.of[m] = static_cast<int>(b.members.size());
      b.members.push_back(open);
    }
    open.clear();
    open_bytes = 0;
  };
  std::vector<char> in_open(g.nodes.size(), 0);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const double bytes = static_cast<double>(g.type(v).bytes());
    if (bucketable(g, v) && bytes < bucket_bytes) {
      const std::string& from = g.node(v).attrs.s("from");
      const std::string axes = from.substr(from.find(';'));  // the partial axes: the group
      if (!open.empty() && (axes != open_axes || open_bytes + bytes > bucket_bytes)) close();
      open.push_back(v);
      in_open[v] = 1;
      open_axes = axes;
      open_bytes += bytes;
      continue;
    }
    for (ir::ValueId x : g.node(v).inputs) {
      if (in_open[x]) {
        close();
        break;
      }
    }
  }
  close();
  return b;
}

}  // namespace

Program bucket_all_reduces(Program p, double bucket_bytes) {
  if (bucket_bytes <= 0) return p;
  const Buckets b = group(p.graph, bucket_bytes);
  if (b.members.empty()) return p;
  std::vector<ir::ValueId> order;
  order.reserve(p.graph.nodes.size());
  for (ir::ValueId v = 0; v < p.graph.size(); ++v) {
    const int bucket = b.of[v];
    if (bucket < 0) {
      order.push_back(v);
    } else if (b.members[bucket].back() == v) {  // the last member: the whole bucket goes here
      for (ir::ValueId m : b.members[bucket]) {
        p.graph.nodes[m].attrs.set("bucket", static_cast<int64_t>(bucket));
        order.push_back(m);
      }
    }
  }
  return in_order(std::move(p), order);
}

BucketCollective bucket_at(const ir::Graph& g, ir::ValueId first) {
  const int64_t bucket = g.node(first).attrs.i("bucket");
  BucketCollective b;
  for (ir::ValueId m = first; m < g.size() && g.node(m).attrs.i("bucket", -1) == bucket; ++m) {
    b.members.push_back(m);
    b.bytes += g.type(m).bytes();
  }
  const std::vector<std::vector<int>> whole(1);  // one dimension, split over no axis
  b.global = {static_cast<int64_t>(b.bytes / 4)};
  b.from = {whole, collectives::decode_layout(g.node(first).attrs.s("from")).partial};
  b.to = {whole, {}};
  return b;
}

std::vector<double> bucket_sizes_tried() {
  std::vector<double> sizes{0};
  for (double s = 256.0 * 1024; s <= 64.0 * 1024 * 1024; s *= 4) sizes.push_back(s);
  return sizes;
}

double bucket_size(const Program& p, const DeviceModel& device, CollectiveCosts& costs) {
  double best = 0, best_s = std::numeric_limits<double>::infinity();
  for (double size : bucket_sizes_tried()) {
    const double s = simulate(bucket_all_reduces(p, size), device, costs).step_time_s;
    if (s < best_s * (1 - 1e-9)) best = size, best_s = s;  // a larger bucket must gain
  }
  return best;
}

}  // namespace spmd::partitioner
