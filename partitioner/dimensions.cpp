#include "partitioner/dimensions.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>

#include "ir/ops.h"
#include "partitioner/factors.h"

namespace spmd::partitioner {
namespace {

class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  size_t find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void join(size_t a, size_t b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<size_t> parent_;
};

// What the roles are read from: the program, each value's users, and the classes.
struct Structure {
  const ir::Graph& g;
  const DimensionAnalysis& a;
  std::vector<std::vector<ir::ValueId>> users;
  std::vector<std::string> role;  // per class

  Structure(const ir::Graph& graph, const DimensionAnalysis& analysis)
      : g(graph), a(analysis), users(graph.nodes.size()), role(analysis.classes.size()) {
    for (ir::ValueId v = 0; v < g.size(); ++v) {
      for (ir::ValueId in : g.node(v).inputs) users[in].push_back(v);
    }
  }
  // The class of dimension `dim` of `v`, counted from the end when negative; -1 for none.
  int class_at(ir::ValueId v, int dim) const {
    const auto& dims = a.class_of[v];
    if (dim < 0) dim += static_cast<int>(dims.size());
    return dim >= 0 && dim < static_cast<int>(dims.size()) ? dims[dim] : -1;
  }
  // The first role found for a class stands: callers go from the surest to the loosest.
  void assign(int c, const std::string& r) {
    if (c >= 0 && role[c].empty()) role[c] = r;
  }
};

bool is_data_input(const ir::Node& n) { return n.op == "input" && n.type.rank() > 0; }

// The values the outputs are computed from: the forward pass of a training step.
std::vector<bool> forward_values(const ir::Graph& g) {
  std::vector<bool> forward(g.nodes.size(), false);
  for (const auto& [name, v] : g.outputs) forward[v] = true;
  for (ir::ValueId v = g.size(); v-- > 0;) {
    if (!forward[v]) continue;
    for (ir::ValueId in : g.node(v).inputs) forward[in] = true;
  }
  return forward;
}

// Whether `v` is computed from `from`. Operands come before their users, so only values
// after `from` are searched, each once per query (`seen` holds the query's stamp).
bool depends_on(const ir::Graph& g, ir::ValueId v, ir::ValueId from, std::vector<int>& seen, int stamp) {
  std::vector<ir::ValueId> stack{v};
  while (!stack.empty()) {
    ir::ValueId x = stack.back();
    stack.pop_back();
    if (x == from) return true;
    if (x < from || seen[x] == stamp) continue;
    seen[x] = stamp;
    for (ir::ValueId in : g.node(x).inputs) stack.push_back(in);
  }
  return false;
}

// The residual stream (He et al. 2016): the last dimension of x + f(x) in the forward pass.
std::vector<bool> residual_classes(const Structure& s) {
  std::vector<bool> out(s.a.classes.size(), false);
  std::vector<bool> forward = forward_values(s.g);
  std::vector<int> seen(s.g.nodes.size(), -1);
  for (ir::ValueId v = 0; v < s.g.size(); ++v) {
    const ir::Node& n = s.g.node(v);
    if (!forward[v] || n.op != "add" || n.type.rank() == 0) continue;
    ir::ValueId x = std::min(n.inputs[0], n.inputs[1]), fx = std::max(n.inputs[0], n.inputs[1]);
    if (s.g.node(x).is_source() || s.g.type(x).shape != n.type.shape || s.g.type(fx).shape != n.type.shape) continue;
    int c = s.class_at(v, -1);
    if (c >= 0 && !out[c] && depends_on(s.g, fx, x, seen, v)) out[c] = true;
  }
  return out;
}

// [B,S,D] -> [B,S,H,dh]: one slice of the model dimension per head.
bool splits_heads(const ir::Graph& g, ir::ValueId v) {
  const ir::Node& n = g.node(v);
  if (n.op != "reshape") return false;
  const ir::Shape &x = g.type(n.inputs[0]).shape, &y = n.type.shape;
  return x.size() == 3 && y.size() == 4 && y[0] == x[0] && y[1] == x[1] && y[2] * y[3] == x[2] && y[2] > 1;
}

// Whether `v` reaches, through transposes only, a matmul of two activations batched over
// leading dimensions (attention's q k^T and probs v).
bool feeds_batched_matmul(const Structure& s, ir::ValueId v) {
  for (ir::ValueId u : s.users[v]) {
    const ir::Node& n = s.g.node(u);
    if (n.op == "transpose" && feeds_batched_matmul(s, u)) return true;
    if (n.op == "matmul" && n.type.rank() >= 3 && !s.g.node(n.inputs[0]).is_source() &&
        !s.g.node(n.inputs[1]).is_source()) {
      return true;
    }
  }
  return false;
}

void find_heads(Structure& s) {
  for (ir::ValueId v = 0; v < s.g.size(); ++v) {
    if (!splits_heads(s.g, v) || !feeds_batched_matmul(s, v)) continue;
    s.assign(s.class_at(v, 2), "heads");
    s.assign(s.class_at(v, 3), "head_dim");
  }
}

// A dense layer x W: a param matrix W, neither operand transposed (the backward pass's
// matmuls by W transpose one of them).
bool is_dense(const ir::Graph& g, ir::ValueId v) {
  const ir::Node& n = g.node(v);
  if (n.op != "matmul" || n.attrs.i("transpose_a", 0) || n.attrs.i("transpose_b", 0)) return false;
  const ir::Node& w = g.node(n.inputs[1]);
  return w.op == "param" && w.type.rank() == 2 && g.node(n.inputs[0]).op != "param";
}

// The dense layer that reads dense layer `v` through its bias (if any) and a nonlinearity.
std::optional<ir::ValueId> next_dense(const Structure& s, ir::ValueId v) {
  std::vector<ir::ValueId> outputs{v};
  for (ir::ValueId u : s.users[v]) {
    const ir::Node& n = s.g.node(u);
    if (n.op == "add" && s.g.node(n.inputs[0] == v ? n.inputs[1] : n.inputs[0]).op == "param") outputs.push_back(u);
  }
  for (ir::ValueId out : outputs) {
    for (ir::ValueId act : s.users[out]) {
      if (!ir::op_traits(s.g.node(act).op).activation) continue;
      for (ir::ValueId w : s.users[act]) {
        if (is_dense(s.g, w) && s.g.node(w).inputs[0] == act) return w;
      }
    }
  }
  return std::nullopt;
}

// Megatron-LM's MLPs: chains of dense layers joined by nonlinearities, each link's hidden
// class (the first layer's columns, the next one's rows). A chain whose last layer writes
// into the residual stream is a transformer block's MLP (d_ff), else a plain MLP (hidden).
std::vector<std::vector<int>> find_mlp_chains(Structure& s, const std::vector<bool>& residual) {
  std::map<ir::ValueId, ir::ValueId> next;
  std::vector<bool> has_previous(s.g.nodes.size(), false);
  for (ir::ValueId v = 0; v < s.g.size(); ++v) {
    if (!is_dense(s.g, v)) continue;
    if (auto n = next_dense(s, v)) next[v] = *n, has_previous[*n] = true;
  }
  std::vector<std::vector<int>> chains;
  for (const auto& [first, second] : next) {
    if (has_previous[first]) continue;
    std::vector<int> hidden;
    ir::ValueId last = first;
    for (; next.count(last); last = next.at(last)) {
      if (int c = s.class_at(last, -1); c >= 0) hidden.push_back(c);
    }
    int out = s.class_at(last, -1);
    std::string role = out >= 0 && residual[out] ? "d_ff" : "hidden";
    for (int c : hidden) s.assign(c, role);
    chains.push_back(hidden);
  }
  return chains;
}

// Token positions and the embedding's rows, from each gather of a table by ids; the logits'
// classes from each cross-entropy.
void find_sequence_and_vocab(Structure& s) {
  std::vector<int64_t> table_rows;
  for (ir::ValueId v : s.g.nodes_with_op("gather")) {
    ir::ValueId table = s.g.node(v).inputs[0], ids = s.g.node(v).inputs[1];
    for (int d = 1; d < s.g.type(ids).rank(); ++d) s.assign(s.class_at(ids, d), "sequence");
    s.assign(s.class_at(table, 0), "vocab");
    table_rows.push_back(s.g.type(table).shape[0]);
  }
  for (ir::ValueId v : s.g.nodes_with_op("cross_entropy")) {
    ir::ValueId logits = s.g.node(v).inputs[0];
    int64_t n = s.g.type(logits).shape.back();
    bool over_table = std::find(table_rows.begin(), table_rows.end(), n) != table_rows.end();
    s.assign(s.class_at(logits, -1), over_table ? "vocab" : "classes");
  }
}

// Surest first: a class keeps the first role found for it.
std::vector<std::string> find_roles(const ir::Graph& g, DimensionAnalysis& a) {
  Structure s(g, a);
  for (ir::ValueId v : g.nodes_with_op("input")) {
    if (is_data_input(g.node(v))) s.assign(s.class_at(v, 0), "batch");
  }
  find_heads(s);
  std::vector<bool> residual = residual_classes(s);
  a.mlp_chains = find_mlp_chains(s, residual);
  for (size_t c = 0; c < residual.size(); ++c) {
    if (residual[c]) s.assign(static_cast<int>(c), "d_model");
  }
  find_sequence_and_vocab(s);
  for (ir::ValueId v : g.nodes_with_op("input")) {
    for (ir::ValueId u : s.users[v]) {
      if (g.type(v).rank() >= 2 && g.node(u).op == "matmul" && g.node(u).inputs[0] == v) s.assign(s.class_at(v, -1), "features");
    }
  }
  return s.role;
}

void find_conflicts(const ir::Graph& g, DimensionAnalysis& a) {
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const auto& cls = a.class_of[v];
    for (size_t d = 0; d < cls.size(); ++d) {
      for (size_t e = d + 1; e < cls.size(); ++e) {
        if (cls[d] >= 0 && cls[d] == cls[e]) {
          a.conflicts.push_back({cls[d], v, "dimensions " + std::to_string(d) + " and " + std::to_string(e) + " of " +
                                                ir::value_label(g, v) + " are both in the class"});
        }
      }
    }
    const ir::Node& n = g.node(v);
    if (n.is_source()) continue;
    OpFactors f = op_factors(g, v);
    for (size_t k = 0; k < f.places.size(); ++k) {
      if (f.rule.factor_kind[k] != ir::FactorKind::replicated) continue;
      for (const Place& p : f.places[k]) {
        int c = a.class_of[p.value][p.dim];
        if (c >= 0 && a.classes[c].members.size() > 1) {
          a.conflicts.push_back({c, v, n.op + " " + ir::value_label(g, v) + " needs dimension " + std::to_string(p.dim) +
                                           " of " + ir::value_label(g, p.value) + " whole"});
          break;
        }
      }
    }
  }
}

}  // namespace

int DimensionAnalysis::class_named(const std::string& name) const {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> DimensionAnalysis::classes_with_role(const std::string& role) const {
  std::vector<int> out;
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].role == role) out.push_back(static_cast<int>(i));
  }
  return out;
}

DimensionAnalysis analyze_dimensions(const ir::Graph& g) {
  std::vector<size_t> offset(g.nodes.size() + 1, 0);
  for (size_t v = 0; v < g.nodes.size(); ++v) offset[v + 1] = offset[v] + g.nodes[v].type.shape.size();
  UnionFind uf(offset.back());
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).is_source()) continue;
    OpFactors f = op_factors(g, v);
    for (size_t k = 0; k < f.places.size(); ++k) {
      if (!f.shardable[k]) continue;
      for (size_t i = 1; i < f.places[k].size(); ++i) {
        const Place &a = f.places[k][0], &b = f.places[k][i];
        uf.join(offset[a.value] + a.dim, offset[b.value] + b.dim);
      }
    }
  }
  DimensionAnalysis a;
  std::map<size_t, int> index_of_root;
  a.class_of.resize(g.nodes.size());
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Shape& s = g.type(v).shape;
    a.class_of[v].assign(s.size(), -1);
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] == 1) continue;
      size_t root = uf.find(offset[v] + d);
      auto [it, fresh] = index_of_root.emplace(root, static_cast<int>(a.classes.size()));
      if (fresh) a.classes.push_back({"", "", s[d], {}});
      // A dimension that a reshape splits holds the class as its major factor ([B,S,D] in
      // the heads class): the class's size is its smallest member's, the factor itself.
      a.classes[it->second].size = std::min(a.classes[it->second].size, s[d]);
      a.classes[it->second].members.push_back({v, static_cast<int>(d)});
      a.class_of[v][d] = it->second;
    }
  }
  // Largest classes first; renumber class_of to match.
  std::vector<int> order(a.classes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return a.classes[x].members.size() > a.classes[y].members.size(); });
  std::vector<int> new_index(order.size());
  std::vector<DimensionClass> sorted;
  for (size_t i = 0; i < order.size(); ++i) {
    new_index[order[i]] = static_cast<int>(i);
    sorted.push_back(std::move(a.classes[order[i]]));
  }
  a.classes = std::move(sorted);
  for (auto& dims : a.class_of) {
    for (int& c : dims) c = c >= 0 ? new_index[c] : -1;
  }
  std::vector<std::string> roles = find_roles(g, a);
  std::map<std::string, int> used;
  for (size_t i = 0; i < a.classes.size(); ++i) {
    a.classes[i].role = roles[i];
    std::string name = roles[i].empty() ? "dim" + std::to_string(i) : roles[i];
    if (used[name]++) name += "#" + std::to_string(used[name]);
    a.classes[i].name = name;
  }
  find_conflicts(g, a);
  return a;
}

}  // namespace spmd::partitioner
