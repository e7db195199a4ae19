// The reference's entry points: the op table, one node, a whole graph.
#include <string>

#include "common/error.h"
#include "ir/ops.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/reference.h"

namespace spmd::kernels {
namespace {

const reference::RefTable& table() {
  static const reference::RefTable table = [] {
    reference::RefTable t;
    reference::add_source_ops(t);
    reference::add_elementwise_ops(t);
    reference::add_matmul_ops(t);
    reference::add_reduce_ops(t);
    reference::add_softmax_ops(t);
    reference::add_normalization_ops(t);
    reference::add_shape_ops(t);
    reference::add_embedding_ops(t);
    reference::add_loss_ops(t);
    reference::add_optimizer_ops(t);
    return t;
  }();
  return table;  // immutable after construction
}

// Inputs, params and state: their values come from outside.
bool given_from_outside(const ir::Node& node) {
  if (!node.is_source()) return false;
  const ir::Source source = ir::op_traits(node.op).source;
  return source == ir::Source::fed || source == ir::Source::initialized;
}

}  // namespace

bool has_reference_kernel(std::string_view op) { return table().contains(std::string(op)); }

RefTensor eval_reference(const ir::Node& node, std::span<const RefTensor* const> operands) {
  auto it = table().find(node.op);
  if (it == table().end()) {
    throw InternalError("reference backend: no kernel for op '" + node.op + "'" +
                        (given_from_outside(node) ? " (sources are fed by the runtime)" : ""));
  }
  if (operands.size() != node.inputs.size()) {
    throw Error("reference backend: op '" + node.op + "' given " + std::to_string(operands.size()) +
                " operands for " + std::to_string(node.inputs.size()) + " inputs");
  }
  return it->second(node, operands);
}

std::vector<RefTensor> evaluate_graph(const ir::Graph& graph,
                                      const std::map<ir::ValueId, RefTensor>& sources) {
  std::vector<RefTensor> values;
  values.reserve(graph.nodes.size());
  for (ir::ValueId v = 0; v < graph.size(); ++v) {
    const ir::Node& node = graph.node(v);
    if (given_from_outside(node)) {
      auto it = sources.find(v);
      if (it == sources.end()) {
        throw Error("evaluate_graph: no value given for " + node.op + " " +
                    ir::value_label(graph, v));
      }
      if (it->second.type != node.type) {
        throw Error("evaluate_graph: value given for " + ir::value_label(graph, v) + " is " +
                    ir::to_string(it->second.type) + ", expected " + ir::to_string(node.type));
      }
      values.push_back(it->second);
      continue;
    }
    std::vector<const RefTensor*> operands;
    for (ir::ValueId in : node.inputs) operands.push_back(&values.at(static_cast<size_t>(in)));
    try {
      values.push_back(eval_reference(node, operands));
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (at " + ir::value_label(graph, v) + ")");
    }
  }
  return values;
}

}  // namespace spmd::kernels
