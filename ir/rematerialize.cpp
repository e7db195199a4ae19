#include "ir/rematerialize.h"

#include <algorithm>
#include <set>
#include <string>

#include "ir/ops.h"

namespace spmd::ir {
namespace {

// What each node is to the step: part of the forward pass (a non-source node an output
// depends on), and whether it depends on fed data (an activation) or on params alone.
struct Roles {
  std::vector<bool> forward, activation;
  std::vector<ValueId> last_forward_use;  // the last forward node reading it, or -1
};

Roles roles_of(const Graph& g) {
  const size_t n = g.nodes.size();
  Roles r{std::vector<bool>(n, false), std::vector<bool>(n, false), std::vector<ValueId>(n, -1)};
  std::vector<bool> needed(n, false), fed(n, false);
  for (const auto& [name, v] : g.outputs) needed[v] = true;
  for (ValueId v = g.size() - 1; v >= 0; --v) {
    if (!needed[v] || g.node(v).is_source()) continue;
    r.forward[v] = true;
    for (ValueId x : g.node(v).inputs) needed[x] = true;
  }
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& node = g.node(v);
    fed[v] = op_traits(node.op).source == Source::fed;
    for (ValueId x : node.inputs) fed[v] = fed[v] || fed[x];
    r.activation[v] = r.forward[v] && fed[v];
    if (!r.forward[v]) continue;
    for (ValueId x : node.inputs) r.last_forward_use[x] = v;
  }
  return r;
}

// The checkpoints: at each point of the forward order where exactly one activation is still
// to be read by a later forward node, that activation. Returns the last such point, or -1.
ValueId find_checkpoints(const Graph& g, const Roles& r, std::vector<bool>& checkpoint) {
  std::set<ValueId> crossing;
  ValueId last_cut = -1;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (!r.forward[v]) continue;
    for (ValueId x : g.node(v).inputs) {
      if (r.last_forward_use[x] == v) crossing.erase(x);
    }
    if (r.activation[v] && r.last_forward_use[v] > v) crossing.insert(v);
    if (crossing.size() == 1) checkpoint[*crossing.begin()] = true, last_cut = v;
  }
  return last_cut;
}

class Rewriter {
 public:
  Rewriter(const Graph& g, std::vector<bool> recomputable)
      : g_(g), recomputable_(std::move(recomputable)), moved_(g.nodes.size(), -1), copy_(g.nodes.size(), -1) {
    for (const Node& n : g.nodes) {
      if (!n.name.empty()) names_.insert(n.name);
    }
    out_.graph.meta = g.meta;
  }

  Rematerialized run(const Roles& roles) {
    for (ValueId v = 0; v < g_.size(); ++v) {
      const Node& node = g_.node(v);
      bool reads_back = !roles.forward[v] && !node.is_source();
      if (reads_back) {
        for (ValueId x : node.inputs) {
          if (recomputable_[x]) recompute(x);
        }
      }
      moved_[v] = emit(node, v, reads_back);
    }
    for (const auto& [name, v] : g_.outputs) out_.graph.outputs.emplace_back(name, moved_[v]);
    for (const auto& [target, value] : g_.updates) out_.graph.updates.emplace_back(moved_[target], moved_[value]);
    out_.moved = moved_;
    return std::move(out_);
  }

 private:
  // Emits `node` with its operands renamed; `recomputed` reads the copies of recomputable ones.
  ValueId emit(Node node, ValueId from, bool recomputed) {
    for (ValueId& x : node.inputs) x = recomputed && recomputable_[x] ? copy_[x] : moved_[x];
    out_.graph.nodes.push_back(std::move(node));
    out_.origin.push_back(from);
    return out_.graph.size() - 1;
  }

  // A copy of `v` and of every recomputable value it needs that has none yet, operands
  // first (an explicit stack: a segment may be thousands of nodes long).
  void recompute(ValueId v) {
    std::vector<ValueId> stack{v};
    while (!stack.empty()) {
      ValueId u = stack.back();
      if (copy_[u] >= 0) {
        stack.pop_back();
        continue;
      }
      bool ready = true;
      for (ValueId x : g_.node(u).inputs) {
        if (recomputable_[x] && copy_[x] < 0) stack.push_back(x), ready = false;
      }
      if (!ready) continue;
      stack.pop_back();
      Node node = g_.node(u);
      if (!node.name.empty()) node.name = fresh_name(node.name + ".recomputed");
      copy_[u] = emit(std::move(node), u, true);
      ++out_.recomputed;
    }
  }

  std::string fresh_name(const std::string& base) {
    std::string name = base;
    for (int i = 2; !names_.insert(name).second; ++i) name = base + std::to_string(i);
    return name;
  }

  const Graph& g_;
  std::vector<bool> recomputable_;
  std::vector<ValueId> moved_, copy_;
  std::set<std::string> names_;
  Rematerialized out_;
};

}  // namespace

Rematerialized rematerialize(const Graph& g) {
  Roles roles = roles_of(g);
  std::vector<bool> checkpoint(g.nodes.size(), false), recomputable(g.nodes.size(), false);
  ValueId last_cut = find_checkpoints(g, roles, checkpoint);
  for (ValueId v = 0; v < g.size(); ++v) {
    ValueId last = roles.last_forward_use[v];
    recomputable[v] = roles.forward[v] && !checkpoint[v] && last >= 0 && last <= last_cut;
  }
  Rematerialized out = Rewriter(g, std::move(recomputable)).run(roles);
  out.checkpoints = static_cast<int>(std::count(checkpoint.begin(), checkpoint.end(), true));
  return out;
}

}  // namespace spmd::ir
