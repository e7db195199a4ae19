#include "ir/graph.h"

#include "common/error.h"
#include "ir/ops.h"

namespace spmd::ir {

bool Node::is_source() const {
  const OpDef* def = find_op(op);
  return def && def->traits.source != Source::none;
}

std::optional<ValueId> Graph::find(const std::string& name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return static_cast<ValueId>(i);
  }
  return std::nullopt;
}

ValueId Graph::output(const std::string& name) const {
  for (const auto& [n, v] : outputs) {
    if (n == name) return v;
  }
  throw Error("graph has no output named '" + name + "'");
}

std::vector<ValueId> Graph::nodes_with_op(const std::string& op) const {
  std::vector<ValueId> ids;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].op == op) ids.push_back(static_cast<ValueId>(i));
  }
  return ids;
}

static bool same_node(const Node& a, const Node& b) {
  return a.op == b.op && a.inputs == b.inputs && a.attrs == b.attrs && a.type == b.type &&
         a.name == b.name;
}

bool Graph::operator==(const Graph& other) const {
  if (nodes.size() != other.nodes.size()) return false;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!same_node(nodes[i], other.nodes[i])) return false;
  }
  return outputs == other.outputs && updates == other.updates && meta == other.meta;
}

std::string value_label(const Graph& g, ValueId v) {
  const std::string& name = g.node(v).name;
  return "%" + (name.empty() ? std::to_string(v) : name);
}

Graph without_dead_code(const Graph& g) {
  std::vector<bool> live(g.nodes.size(), false);
  for (const auto& [name, v] : g.outputs) live[v] = true;
  for (const auto& [target, next] : g.updates) live[target] = live[next] = true;
  for (ValueId v = g.size() - 1; v >= 0; --v) {
    if (g.node(v).is_source()) live[v] = true;
    if (!live[v]) continue;
    for (ValueId x : g.node(v).inputs) live[x] = true;
  }
  Graph out;
  out.meta = g.meta;
  std::vector<ValueId> renumbered(g.nodes.size(), -1);
  for (ValueId v = 0; v < g.size(); ++v) {
    if (!live[v]) continue;
    Node n = g.node(v);
    for (ValueId& x : n.inputs) x = renumbered[x];
    renumbered[v] = out.size();
    out.nodes.push_back(std::move(n));
  }
  for (const auto& [name, v] : g.outputs) out.outputs.emplace_back(name, renumbered[v]);
  for (const auto& [target, next] : g.updates) out.updates.emplace_back(renumbered[target], renumbered[next]);
  return out;
}

}  // namespace spmd::ir
