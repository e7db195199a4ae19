// The tensor program: a Graph of ops in SSA form. Value i is the result of nodes[i]; every
// operand refers to an earlier node, so the node order is a valid execution order.
//
// Sources are nodes too: `input` (fed each step by the runtime: data, learning rate, step
// number), `param` (trained, initialised by the runtime from its `init` attribute and the
// seed), `state` (optimizer state, zero-initialised) and `constant`. A training step lists
// `updates`: after each step the runtime stores the update's value into the param or state.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/attrs.h"
#include "ir/types.h"

namespace spmd::ir {

using ValueId = int32_t;

struct Node {
  std::string op;                // name in the op registry (ir/ops.h)
  std::vector<ValueId> inputs;   // operands, all earlier nodes
  Attrs attrs;                   // op-specific settings
  TensorType type;               // the result's type
  std::string name;              // unique readable name, or empty (printed as %index)

  // Whether the op is a source (ir::OpTraits::source); false for an unknown op.
  bool is_source() const;
};

struct Graph {
  std::vector<Node> nodes;
  std::vector<std::pair<std::string, ValueId>> outputs;  // e.g. {"loss", %123}
  std::vector<std::pair<ValueId, ValueId>> updates;      // (param or state, its new value)
  Attrs meta;  // model-level facts: `model` spec, `data` source, `seed`

  const Node& node(ValueId v) const { return nodes.at(static_cast<size_t>(v)); }
  const TensorType& type(ValueId v) const { return node(v).type; }
  int size() const { return static_cast<int>(nodes.size()); }
  // The node named `name`, if any. Linear in the graph's size.
  std::optional<ValueId> find(const std::string& name) const;
  // The named output; throws spmd::Error when the graph has none of that name.
  ValueId output(const std::string& name) const;
  // Ids of the nodes with op `op` ("param", "input", ...), in graph order.
  std::vector<ValueId> nodes_with_op(const std::string& op) const;
  bool operator==(const Graph&) const;
};

// How a value reads in messages and in the text form: "%wq" or "%17".
std::string value_label(const Graph& g, ValueId v);

// `g` without the ops whose results nothing uses (no output, update or later live op reads
// them); sources are kept, since they are the program's interface. Values keep their order
// and are renumbered. O(nodes).
Graph without_dead_code(const Graph& g);

}  // namespace spmd::ir
