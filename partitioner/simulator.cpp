#include "partitioner/simulator.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/memory_plan.h"

namespace spmd::partitioner {
namespace {

// The collective record of each redistribute node, or -1.
std::vector<int> records_by_node(const Program& program) {
  std::vector<int> out(program.graph.nodes.size(), -1);
  for (size_t i = 0; i < program.collectives.size(); ++i) out.at(program.collectives[i].at) = static_cast<int>(i);
  return out;
}

// A bucket (bucket.h) is one collective: the record of it, for the bucket whose first
// member is node `first`.
CollectiveRecord bucket_record(const Program& program, const std::vector<int>& record, const BucketCollective& b) {
  CollectiveRecord r = program.collectives[record[b.members.front()]];
  r.global = b.global;
  r.from_layout = b.from;
  r.to_layout = b.to;
  r.bytes = b.bytes;
  return r;
}

struct Streams {
  double compute = 0, comm = 0;      // when each stream is next free
  double compute_busy = 0, comm_busy = 0;
  double since_sync = 0;             // compute since the last collective between devices
};

}  // namespace

Prediction simulate_time(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap,
                         std::vector<SimulatedLaunch>* launches) {
  const ir::Graph& g = program.graph;
  const std::vector<int> record = records_by_node(program);
  std::vector<double> ready(g.nodes.size(), 0);
  Streams s;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    double operands = 0;
    for (ir::ValueId x : n.inputs) operands = std::max(operands, ready[x]);
    if (record[v] >= 0) {
      const int64_t bucket = n.attrs.i("bucket", -1);
      const bool later_member = bucket >= 0 && v > 0 && g.node(v - 1).attrs.i("bucket", -1) == bucket;
      if (later_member) {  // issued with the first member, done with it
        ready[v] = ready[v - 1];
        continue;
      }
      std::optional<BucketCollective> b;
      if (bucket >= 0) b = bucket_at(g, v);
      for (ir::ValueId m : b ? b->members : std::vector<ir::ValueId>{}) {
        for (ir::ValueId x : g.node(m).inputs) operands = std::max(operands, ready[x]);  // it waits for them all
      }
      const CollectiveRecord& r = b ? bucket_record(program, record, *b) : program.collectives[record[v]];
      double t = costs.seconds(r);
      // Issued when the main thread reaches it in program order (its kernels run there, so
      // at the compute stream's time), then run when the communication stream is free;
      // overlapped, it reaches that thread and its result comes back a half hand-off late
      // (not one that moves nothing: the runtime copies it in place).
      const bool between_devices = costs.across_devices(r);
      const double half_handoff = overlap && between_devices ? device.handoff_s / 2 : 0;
      // Between devices, it waits for the slowest rank too (device_model.h's sync_wait).
      const double wait = between_devices ? device.sync_wait_s + device.sync_wait_fraction * s.since_sync : 0;
      if (between_devices) s.since_sync = 0;
      double start = std::max({s.comm, operands, s.compute + half_handoff}) + wait;
      s.comm = start + t;
      if (!overlap) s.compute = s.comm;
      s.comm_busy += t;
      ready[v] = s.comm + half_handoff;
      if (launches) launches->push_back({v, true, start, t});
    } else if (n.is_source() || ir::op_def(n.op).traits.view) {
      ready[v] = operands;
    } else {
      double t = op_seconds(g, v, device);
      double start = std::max(s.compute, operands);
      s.compute = start + t;
      s.compute_busy += t;
      s.since_sync += t;
      ready[v] = s.compute;
      if (launches) launches->push_back({v, false, start, t});
    }
  }
  Prediction p;
  p.step_time_s = std::max(s.compute, s.comm);
  p.compute_s = s.compute_busy;
  p.comm_s = s.comm_busy;
  p.exposed_comm_s = std::max(0.0, p.step_time_s - s.compute_busy);
  return p;
}

Prediction simulate(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap,
                    std::vector<SimulatedLaunch>* launches) {
  Prediction p = simulate_time(program, device, costs, overlap, launches);
  p.peak_bytes = plan_program_memory(program.graph).peak_bytes();
  return p;
}

Prediction simulate(const Program& program, const Mesh& mesh, const launcher::Topology& topology,
                    const DeviceModel& device) {
  CollectiveCosts costs(mesh, topology);
  return simulate(program, device, costs);
}

}  // namespace spmd::partitioner
