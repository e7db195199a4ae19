#include "runtime/predicted_timeline.h"

#include <algorithm>

#include "ir/ops.h"

namespace spmd::runtime {

// The same walk as partitioner::simulate (simulator.cpp), which keeps only totals;
// tests/runtime/predicted_timeline_test.cpp holds the two to the same step time.
std::vector<PredictedLaunch> predicted_timeline(const partitioner::Program& program,
                                                const partitioner::DeviceModel& device,
                                                partitioner::CollectiveCosts& costs) {
  const ir::Graph& g = program.graph;
  std::vector<int> record(g.nodes.size(), -1);
  for (size_t i = 0; i < program.collectives.size(); ++i) record.at(program.collectives[i].at) = static_cast<int>(i);
  std::vector<double> ready(g.nodes.size(), 0);
  double compute = 0, comm = 0;  // when each stream is next free
  std::vector<PredictedLaunch> out;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    double operands = 0;
    for (ir::ValueId x : n.inputs) operands = std::max(operands, ready[x]);
    if (record[v] >= 0) {
      double t = costs.seconds(program.collectives[record[v]]);
      double start = std::max(comm, operands);
      out.push_back({v, Stream::communication, start, t});
      comm = ready[v] = start + t;
    } else if (n.is_source() || ir::op_def(n.op).traits.view) {
      ready[v] = operands;
    } else {
      double t = partitioner::op_seconds(g, v, device);
      double start = std::max(compute, operands);
      out.push_back({v, Stream::compute, start, t});
      compute = ready[v] = start + t;
    }
  }
  return out;
}

}  // namespace spmd::runtime
