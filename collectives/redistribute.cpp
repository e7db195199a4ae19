#include "collectives/redistribute.h"

#include <algorithm>
#include <map>
#include <memory>

#include "collectives/primitives.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

using Kind = RedistributionStep::Kind;

bool contains(const std::vector<int>& v, int a) { return std::find(v.begin(), v.end(), a) != v.end(); }

bool uses(const Layout& l, int a) {
  return std::any_of(l.dims.begin(), l.dims.end(), [&](const std::vector<int>& d) { return contains(d, a); });
}

bool is_prefix(const std::vector<int>& p, const std::vector<int>& full) {
  return p.size() <= full.size() && std::equal(p.begin(), p.end(), full.begin());
}

// Whether splitting dim d of `l` once more by axis a moves it towards `to`.
bool extends_towards(const Layout& l, const Layout& to, size_t d, int a) {
  std::vector<int> next = l.dims[d];
  next.push_back(a);
  return is_prefix(next, to.dims[d]);
}

// The next step from `l` towards `to`, by priority: shrink first, gather last.
RedistributionStep next_step(const Layout& l, const Layout& to) {
  const size_t rank = l.dims.size();
  for (int a : l.partial) {
    if (contains(to.partial, a) || uses(l, a)) continue;
    for (size_t d = 0; d < rank; ++d) {
      if (extends_towards(l, to, d, a)) return {Kind::reduce_scatter, a, static_cast<int>(d)};
    }
  }
  for (size_t d = 0; d < rank; ++d) {
    if (!is_prefix(l.dims[d], to.dims[d]) || l.dims[d].size() == to.dims[d].size()) continue;
    int a = to.dims[d][l.dims[d].size()];
    if (!uses(l, a) && !contains(l.partial, a)) return {Kind::slice, a, static_cast<int>(d)};
  }
  for (size_t d = 0; d < rank; ++d) {
    if (is_prefix(l.dims[d], to.dims[d])) continue;
    int a = l.dims[d].back();
    for (size_t e = 0; e < rank; ++e) {
      if (e != d && extends_towards(l, to, e, a)) return {Kind::all_to_all, a, static_cast<int>(d), static_cast<int>(e)};
    }
  }
  for (int a : l.partial) {
    if (!contains(to.partial, a)) return {Kind::all_reduce, a};
  }
  for (size_t d = 0; d < rank; ++d) {
    if (!is_prefix(l.dims[d], to.dims[d])) return {Kind::all_gather, l.dims[d].back(), static_cast<int>(d)};
  }
  for (int a : to.partial) {
    if (!contains(l.partial, a) && !uses(l, a)) return {Kind::make_partial, a};
  }
  throw Error("redistribution from " + to_string(l) + " to " + to_string(to) + " is stuck");
}

Layout apply(Layout l, const RedistributionStep& s) {
  auto drop_partial = [&] { l.partial.erase(std::find(l.partial.begin(), l.partial.end(), s.axis)); };
  switch (s.kind) {
    case Kind::reduce_scatter: drop_partial(); l.dims[s.dim].push_back(s.axis); break;
    case Kind::all_reduce: drop_partial(); break;
    case Kind::all_to_all: l.dims[s.dim].pop_back(); l.dims[s.to_dim].push_back(s.axis); break;
    case Kind::all_gather: l.dims[s.dim].pop_back(); break;
    case Kind::slice: l.dims[s.dim].push_back(s.axis); break;
    case Kind::make_partial: l.partial.push_back(s.axis); break;
  }
  return l;
}

// Same layout up to the order of the partial axes.
bool same(Layout a, Layout b) {
  std::sort(a.partial.begin(), a.partial.end());
  std::sort(b.partial.begin(), b.partial.end());
  return a == b;
}

}  // namespace

std::string RedistributionStep::describe() const {
  std::string a = "a" + std::to_string(axis);
  switch (kind) {
    case Kind::reduce_scatter: return "reduce-scatter along " + a + " onto dim " + std::to_string(dim);
    case Kind::all_reduce: return "all-reduce along " + a;
    case Kind::all_to_all: return "all-to-all along " + a + ": dim " + std::to_string(dim) + " -> dim " + std::to_string(to_dim);
    case Kind::all_gather: return "all-gather along " + a + " of dim " + std::to_string(dim);
    case Kind::slice: return "slice dim " + std::to_string(dim) + " by " + a + " (local)";
    case Kind::make_partial: return "partial over " + a + " (local)";
  }
  return "?";
}

std::vector<RedistributionStep> plan_redistribution(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                                    const Layout& from, const Layout& to) {
  local_shape(global, mesh, from);
  local_shape(global, mesh, to);
  std::vector<RedistributionStep> steps;
  Layout l = from;
  while (!same(l, to)) {
    if (steps.size() > 4 * (mesh.size() + 1) * (global.size() + 1)) throw Error("redistribution did not converge");
    steps.push_back(next_step(l, to));
    l = apply(l, steps.back());
  }
  return steps;
}

std::optional<RedistributionStep> single_gather_or_scatter(const std::vector<int64_t>& global,
                                                           const std::vector<int>& mesh, const Layout& from,
                                                           const Layout& to) {
  using Kind = RedistributionStep::Kind;
  if (global.size() != 1) return std::nullopt;
  const std::vector<RedistributionStep> steps = plan_redistribution(global, mesh, from, to);
  if (steps.size() != 1 || (steps[0].kind != Kind::all_gather && steps[0].kind != Kind::reduce_scatter)) {
    return std::nullopt;
  }
  return steps[0];
}

Primitive primitive_of(RedistributionStep::Kind kind) {
  using Kind = RedistributionStep::Kind;
  switch (kind) {
    case Kind::reduce_scatter: return Primitive::reduce_scatter;
    case Kind::all_gather: return Primitive::all_gather;
    case Kind::all_to_all: return Primitive::all_to_all;
    default: return Primitive::all_reduce;
  }
}

}  // namespace spmd::collectives
