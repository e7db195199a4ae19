// Sharding rules of every op (ir/sharding_rule.h), listed per op in the registry (ops.cpp).
#include <algorithm>
#include <numeric>

#include "ir/op_rules.h"
#include "ir/sharding_rule.h"

namespace spmd::ir::rules {
namespace {

using Dims = std::vector<std::vector<int>>;

// One pass factor per result dimension; operands aligned to the right (numpy), their
// dimensions of size 1 against a larger result dimension map to no factor.
ShardingRule aligned(Types in, const Node& n) {
  ShardingRule r;
  const Shape& out = n.type.shape;
  for (int64_t d : out) r.result.push_back({r.add_factor(d, FactorKind::pass)});
  for (const TensorType& t : in) {
    Dims dims;
    size_t lead = out.size() - std::min(out.size(), t.shape.size());
    for (size_t j = 0; j < t.shape.size(); ++j) {
      size_t i = j + lead;
      bool same = i < out.size() && t.shape[j] == out[i];
      dims.push_back(same ? std::vector<int>{static_cast<int>(i)} : std::vector<int>{});
    }
    r.operands.push_back(dims);
  }
  return r;
}

void replicate(ShardingRule& r, int factor) { r.factor_kind.at(factor) = FactorKind::replicated; }

// A dimension of its own that must stay whole (sliced, padded, concatenated ...).
std::vector<int> own(ShardingRule& r, int64_t size) { return {r.add_factor(size, FactorKind::replicated)}; }

}  // namespace

ShardingRule elementwise(Types in, const Node& n) { return aligned(in, n); }

ShardingRule along_axis_rule(Types in, const Node& n) {
  ShardingRule r = aligned(in, n);
  replicate(r, static_cast<int>(n.attrs.i("axis")));
  return r;
}

ShardingRule last_axis_whole(Types in, const Node& n) {
  ShardingRule r = aligned(in, n);
  if (!n.type.shape.empty()) replicate(r, n.type.rank() - 1);
  return r;
}

ShardingRule causal_mask_rule(Types in, const Node& n) {
  ShardingRule r = aligned(in, n);
  replicate(r, n.type.rank() - 1);
  replicate(r, n.type.rank() - 2);
  return r;
}

ShardingRule matmul_rule(Types in, const Node& n) {
  ShardingRule r;
  const Shape &a = in[0].shape, &b = in[1].shape;
  bool ta = n.attrs.i("transpose_a", 0), tb = n.attrs.i("transpose_b", 0);
  size_t batch = n.type.shape.size() - 2;
  for (size_t i = 0; i < batch; ++i) r.result.push_back({r.add_factor(n.type.shape[i], FactorKind::pass)});
  int m = r.add_factor(n.type.shape[batch], FactorKind::pass);
  int nn = r.add_factor(n.type.shape[batch + 1], FactorKind::pass);
  int k = r.add_factor(ta ? a[a.size() - 2] : a.back(), FactorKind::reduction);
  r.result.push_back({m});
  r.result.push_back({nn});
  auto operand = [&](const Shape& s, int rows, int cols) {
    Dims dims;
    for (size_t i = 0; i + 2 < s.size(); ++i) dims.push_back({static_cast<int>(i)});
    dims.push_back({rows});
    dims.push_back({cols});
    return dims;
  };
  r.operands.push_back(ta ? operand(a, k, m) : operand(a, m, k));
  r.operands.push_back(tb ? operand(b, nn, k) : operand(b, k, nn));
  return r;
}

namespace {

// x -> y over `axes`; the reduced factors are of `reduced_kind`. Dimensions of x and of y.
std::pair<Dims, Dims> reduce_dims(ShardingRule& r, const Shape& x, const Node& n, FactorKind reduced_kind) {
  std::vector<int64_t> axes;
  for (int64_t a : n.attrs.ints("axes")) axes.push_back(normalize_axis(a, static_cast<int>(x.size())));
  bool keep = n.attrs.i("keepdims", 0);
  Dims xdims, ydims;
  for (size_t i = 0; i < x.size(); ++i) {
    bool reduced = std::count(axes.begin(), axes.end(), static_cast<int64_t>(i)) > 0;
    int f = r.add_factor(x[i], reduced ? reduced_kind : FactorKind::pass);
    xdims.push_back({f});
    if (!reduced) ydims.push_back({f});
    else if (keep) ydims.push_back({});
  }
  return {xdims, ydims};
}

ShardingRule reduction(Types in, const Node& n, FactorKind reduced_kind) {
  ShardingRule r;
  auto [xdims, ydims] = reduce_dims(r, in[0].shape, n, reduced_kind);
  r.operands = {xdims};
  r.result = ydims;
  return r;
}

// x [..., D] (and dy), scale and bias [D]; D whole.
ShardingRule features_whole(Types in, Dims& xdims) {
  ShardingRule r;
  const Shape& x = in[0].shape;
  for (int64_t d : x) xdims.push_back({r.add_factor(d, FactorKind::pass)});
  int features = xdims.back()[0];
  replicate(r, features);
  for (const TensorType& t : in) r.operands.push_back(t.shape == x ? xdims : Dims{{features}});
  return r;
}

}  // namespace

// A sum or mean over a split dimension is a partial sum; a max must see the dimension whole.
ShardingRule reduce_rule(Types in, const Node& n) { return reduction(in, n, FactorKind::reduction); }
ShardingRule reduce_max_rule(Types in, const Node& n) { return reduction(in, n, FactorKind::replicated); }

ShardingRule reduce_max_grad_rule(Types in, const Node& n) {  // x, y, dy -> like x
  ShardingRule r;
  auto [xdims, ydims] = reduce_dims(r, in[0].shape, n, FactorKind::replicated);
  r.operands = {xdims, ydims, ydims};
  r.result = xdims;
  return r;
}

ShardingRule layernorm_rule(Types in, const Node&) {
  Dims xdims;
  ShardingRule r = features_whole(in, xdims);
  r.result = xdims;
  return r;
}

// x, dy [..., D] -> [D]: summed over the leading dimensions.
ShardingRule layernorm_scale_grad_rule(Types in, const Node&) {
  Dims xdims;
  ShardingRule r = features_whole(in, xdims);
  r.result = Dims{xdims.back()};
  for (size_t i = 0; i + 1 < xdims.size(); ++i) r.factor_kind[xdims[i][0]] = FactorKind::reduction;
  return r;
}

ShardingRule transpose_rule(Types in, const Node& n) {
  ShardingRule r;
  Dims xdims;
  for (int64_t d : in[0].shape) xdims.push_back({r.add_factor(d, FactorKind::pass)});
  r.operands = {xdims};
  for (int64_t p : n.attrs.ints("perm")) r.result.push_back(xdims[p]);
  return r;
}

// Groups of dimensions whose sizes multiply to the same number on both sides: one to one
// is a pass factor, one to many a split (the operand dimension is the factors of the result
// dimensions, major first), many to one a merge, many to many stays whole.
ShardingRule reshape_rule(Types in, const Node& n) {
  ShardingRule r;
  const Shape &x = in[0].shape, &y = n.type.shape;
  Dims xdims(x.size()), ydims(y.size());
  size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    if (i < x.size() && x[i] == 1) { ++i; continue; }
    if (j < y.size() && y[j] == 1) { ++j; continue; }
    std::vector<size_t> gi{i}, gj{j};
    int64_t pi = x[i], pj = y[j];
    while (pi != pj) {
      if (pi < pj) gi.push_back(++i), pi *= x[i];
      else gj.push_back(++j), pj *= y[j];
    }
    ++i, ++j;
    if (gi.size() == 1) {
      for (size_t jj : gj) {
        ydims[jj] = {r.add_factor(y[jj], FactorKind::pass)};
        xdims[gi[0]].push_back(ydims[jj][0]);
      }
    } else if (gj.size() == 1) {
      for (size_t ii : gi) {
        xdims[ii] = {r.add_factor(x[ii], FactorKind::pass)};
        ydims[gj[0]].push_back(xdims[ii][0]);
      }
    } else {
      for (size_t ii : gi) xdims[ii] = own(r, x[ii]);
      for (size_t jj : gj) ydims[jj] = own(r, y[jj]);
    }
  }
  r.operands = {xdims};
  r.result = ydims;
  return r;
}

// slice and pad: the dimensions whose size changes stay whole; the others pass.
ShardingRule resize_rule(Types in, const Node& n) {
  ShardingRule r;
  const Shape &x = in[0].shape, &y = n.type.shape;
  Dims xdims, ydims;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) {
      xdims.push_back({r.add_factor(x[i], FactorKind::pass)});
      ydims.push_back(xdims.back());
    } else {
      xdims.push_back(own(r, x[i]));
      ydims.push_back(own(r, y[i]));
    }
  }
  r.operands = {xdims};
  r.result = ydims;
  return r;
}

ShardingRule concat_rule(Types in, const Node& n) {
  ShardingRule r;
  int axis = static_cast<int>(n.attrs.i("axis"));
  for (size_t i = 0; i < n.type.shape.size(); ++i) {
    r.result.push_back(static_cast<int>(i) == axis ? own(r, n.type.shape[i])
                                                    : std::vector<int>{r.add_factor(n.type.shape[i], FactorKind::pass)});
  }
  for (const TensorType& t : in) {
    Dims dims = r.result;
    dims[axis] = own(r, t.shape[axis]);
    r.operands.push_back(dims);
  }
  return r;
}

ShardingRule gather_rule(Types in, const Node& n) {
  // table [V, D], ids [...] -> [..., D]: rows stay whole (each rank looks up any id).
  ShardingRule r;
  Dims ids;
  for (int64_t d : in[1].shape) ids.push_back({r.add_factor(d, FactorKind::pass)});
  int features = r.add_factor(in[0].shape[1], FactorKind::pass);
  r.operands = {Dims{own(r, in[0].shape[0]), {features}}, ids};
  r.result = ids;
  r.result.push_back({features});
  (void)n;
  return r;
}

ShardingRule scatter_add_rule(Types in, const Node& n) {
  // ids [...], dy [..., D] -> [rows, D]: the positions are summed over (a partial sum).
  ShardingRule r;
  Dims ids;
  for (int64_t d : in[0].shape) ids.push_back({r.add_factor(d, FactorKind::reduction)});
  int features = r.add_factor(in[1].shape.back(), FactorKind::pass);
  Dims dy = ids;
  dy.push_back({features});
  r.operands = {ids, dy};
  r.result = {own(r, n.type.shape[0]), {features}};
  return r;
}

ShardingRule cross_entropy_rule(Types in, const Node& n) {
  // logits [..., C], labels [...] (, dloss [...]) -> [...] or [..., C]; classes whole.
  ShardingRule r;
  Dims lead;
  for (int64_t d : in[1].shape) lead.push_back({r.add_factor(d, FactorKind::pass)});
  Dims logits = lead;
  logits.push_back(own(r, in[0].shape.back()));
  r.operands = {logits, lead};
  if (in.size() == 3) r.operands.push_back(lead);
  r.result = n.type.rank() == static_cast<int>(lead.size()) ? lead : logits;
  return r;
}

void local_shape(Node& local, const Node&) { local.attrs.set("shape", local.type.shape); }

// A slice keeps a dimension it cuts whole (resize_rule), so a dimension whose local size
// differs from the global one is split, not cut: the local op takes all of its shard.
void local_slice(Node& local, const Node& global) {
  std::vector<int64_t> begin = global.attrs.ints("begin"), end = global.attrs.ints("end");
  for (size_t d = 0; d < begin.size(); ++d) {
    if (local.type.shape[d] != global.type.shape[d]) begin[d] = 0, end[d] = local.type.shape[d];
  }
  local.attrs.set("begin", begin);
  local.attrs.set("end", end);
}

}  // namespace spmd::ir::rules

namespace spmd::ir {

ShardingRule sharding_rule(const Node& node, std::span<const TensorType> operands) {
  return op_def(node.op).sharding(operands, node);
}

ShardingRule sharding_rule(const Graph& g, ValueId v) {
  std::vector<TensorType> types;
  for (ValueId x : g.node(v).inputs) types.push_back(g.type(x));
  return sharding_rule(g.node(v), types);
}

namespace {

std::string factor_name(int f) {
  constexpr int kLetters = 'z' - 'i' + 1;
  std::string name(1, static_cast<char>('i' + f % kLetters));
  return f < kLetters ? name : name + std::to_string(f / kLetters);
}

std::string dims_text(const std::vector<std::vector<int>>& dims) {
  std::string out = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) out += ",";
    if (dims[d].empty()) out += "1";
    for (size_t k = 0; k < dims[d].size(); ++k) out += (k ? "*" : "") + factor_name(dims[d][k]);
  }
  return out + "]";
}

}  // namespace

std::string to_string(const ShardingRule& rule) {
  std::string out = "(";
  for (size_t i = 0; i < rule.operands.size(); ++i) out += (i ? "," : "") + dims_text(rule.operands[i]);
  out += ")->(" + dims_text(rule.result) + ")";
  std::string kinds;
  for (size_t f = 0; f < rule.factor_kind.size(); ++f) {
    if (rule.factor_kind[f] == FactorKind::pass) continue;
    kinds += (kinds.empty() ? "" : ", ") + factor_name(static_cast<int>(f)) +
             (rule.factor_kind[f] == FactorKind::reduction ? " reduction" : " replicated");
  }
  return kinds.empty() ? out : out + " {" + kinds + "}";
}

}  // namespace spmd::ir
