#include "partitioner/dimensions.h"

#include <algorithm>
#include <fnmatch.h>
#include <map>
#include <numeric>

#include "ir/models/zoo.h"
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

// Names from the members: what a reader of the model would call the dimension.
std::string name_of(const ir::Graph& g, const DimensionClass& c, const std::map<std::string, int64_t>& hp) {
  struct Hint {
    const char* op;
    const char* pattern;
    int dim;
    const char* name;
  };
  static const Hint hints[] = {
      {"input", "tokens", 0, "batch"}, {"input", "features", 0, "batch"}, {"input", "tokens", 1, "sequence"},
      {"input", "features", 1, "features"}, {"param", "wte", 1, "d_model"}, {"param", "wte", 0, "vocab"},
      {"param", "layer*.mlp.w_in", 1, "d_ff"}, {"param", "layer*.attn.wq", 1, "heads"},
      {"param", "layer0.w", 1, "hidden"}, {"param", "head.b", 0, "classes"},
  };
  for (const Hint& h : hints) {
    for (const DimRef& m : c.members) {
      const ir::Node& n = g.node(m.value);
      if (n.op == h.op && m.dim == h.dim && fnmatch(h.pattern, n.name.c_str(), 0) == 0) return h.name;
    }
  }
  // Splitting heads reshapes [B,S,D] to [B,S,H,dh]: the class of that result's dimension 2
  // is heads, of its dimension 3 head_dim (not the key dimension of the scores, even when
  // it has the same size).
  auto split_dim = [&](int dim) {
    return std::any_of(c.members.begin(), c.members.end(), [&](const DimRef& m) {
      return m.dim == dim && g.node(m.value).op == "reshape" && g.type(m.value).rank() == 4;
    });
  };
  if (hp.count("heads") && c.size == hp.at("heads") && split_dim(2)) return "heads";
  if (hp.count("heads") && c.size == hp.at("d_model") / hp.at("heads") && split_dim(3)) return "head_dim";
  return "";
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
      if (fresh) a.classes.push_back({"", s[d], {}});
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
  std::map<std::string, int64_t> hp;
  if (ir::is_model_spec(g.meta.s("model", ""))) hp = ir::parse_model_spec(g.meta.s("model", "")).params;
  std::map<std::string, int> used;
  for (size_t i = 0; i < a.classes.size(); ++i) {
    std::string name = name_of(g, a.classes[i], hp);
    if (name.empty()) name = "dim" + std::to_string(i);
    if (used[name]++) name += "#" + std::to_string(used[name]);
    a.classes[i].name = name;
  }
  find_conflicts(g, a);
  return a;
}

}  // namespace spmd::partitioner
