// The float64 reference of every op in ir/ops.h: exact math in double with plain loops, the
// yardstick the CPU backend is tested against and the engine of autodiff's finite-difference
// gradient checks. Slow by design; clarity over speed.
#pragma once

#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace spmd::kernels {

// A tensor held in double; i32 values (ids, labels) are stored as exact doubles.
struct RefTensor {
  ir::TensorType type;
  std::vector<double> data;
};

// The result of `node` from its operands (one per node.inputs, same order), of node.type.
// Throws spmd::InternalError for an op without a kernel, the sources input, param and state
// included (their values come from outside).
RefTensor eval_reference(const ir::Node& node, std::span<const RefTensor* const> operands);
// Whether eval_reference has a kernel for `op`.
bool has_reference_kernel(std::string_view op);

// Every value of `graph`, in node order, given the values of its input, param and state
// nodes in `sources`. Throws spmd::Error naming the node when one is missing.
std::vector<RefTensor> evaluate_graph(const ir::Graph& graph,
                                      const std::map<ir::ValueId, RefTensor>& sources);

}  // namespace spmd::kernels
