// The reference's entry points: the op table, one node, a whole graph.
#include <string>

#include "common/error.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/reference.h"

namespace spmd::kernels {
namespace {

reference::RefTable make_table() {
  reference::RefTable table;
  reference::add_source_ops(table);
  reference::add_elementwise_ops(table);
  reference::add_matmul_ops(table);
  reference::add_reduce_ops(table);
  reference::add_softmax_ops(table);
  reference::add_normalization_ops(table);
  reference::add_shape_ops(table);
  reference::add_embedding_ops(table);
  reference::add_loss_ops(table);
  reference::add_optimizer_ops(table);
  return table;
}

}  // namespace

RefTensor eval_reference(const ir::Node& node, std::span<const RefTensor* const> operands) {
  static const reference::RefTable table = make_table();  // immutable after construction
  auto it = table.find(node.op);
  if (it == table.end()) throw Error("reference backend: no kernel for op '" + node.op + "'");
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
    if (node.is_source() && node.op != "constant") {
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
