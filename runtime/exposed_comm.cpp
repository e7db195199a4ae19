#include "runtime/exposed_comm.h"

#include <algorithm>

#include "ir/ops.h"

namespace spmd::runtime {

double exposed_comm_seconds(const ir::Graph& graph, const std::vector<LaunchTime>& launches) {
  if (launches.empty()) return 0;
  double first = launches.front().start_s, last = launches.front().end_s, compute = 0;
  for (const LaunchTime& l : launches) {
    first = std::min(first, l.start_s);
    last = std::max(last, l.end_s);
    if (!ir::op_traits(graph.node(l.node).op).collective) compute += l.end_s - l.start_s;
  }
  return std::max(0.0, last - first - compute);
}

}  // namespace spmd::runtime
