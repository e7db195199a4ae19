#include "partitioner/memory_plan.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {
namespace {

size_t aligned(size_t bytes) {
  return (bytes + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
}

// The value whose buffer `v` shares: itself unless `alias` makes it a view of another.
ir::ValueId root_of(const std::vector<ir::ValueId>& alias, ir::ValueId v) {
  while (alias[v] >= 0) v = alias[v];
  return v;
}

struct Interval {
  ir::ValueId value;  // or the group's index, where `group`
  int first, last;    // node indices between which the buffer is live
  size_t bytes;
  bool group = false;
};

// The buffers placed so far, in (offset, bytes) order, held in runs of at most 2 * kRun so
// that an insertion moves one run, not the whole list (a B-tree's leaves, without the
// tree). Each run knows in which 64ths of the program some buffer of it is live, so first
// fit passes over a run with no buffer live near the new buffer's lifetime in one test.
class PlacedBuffers {
 public:
  struct Placed {
    size_t offset, bytes;
    int first, last;  // the lifetime is copied in: first fit reads it for every buffer
  };

  explicit PlacedBuffers(int nodes) : bucket_(std::max(1, (nodes + 63) / 64)) {}

  // The lowest offset where `bytes` fit beside every placed buffer live at some node of
  // [first, last]: 0 or the end of one of them. Θ(placed buffers) at worst.
  size_t first_fit(int first, int last, size_t bytes) const {
    size_t offset = 0;
    const uint64_t live = span_mask(first, last);
    for (const Run& run : runs_) {
      if (!(run.live & live)) continue;
      for (const Placed& p : run.buffers) {
        if (p.first > last || first > p.last) continue;
        if (p.offset >= offset + bytes) return offset;
        offset = std::max(offset, p.offset + p.bytes);
      }
    }
    return offset;
  }

  void insert(const Placed& next) {
    auto after = [](const Placed& a, const Placed& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.bytes < b.bytes;
    };
    auto run = std::upper_bound(runs_.begin(), runs_.end(), next,
                                [&](const Placed& x, const Run& r) { return after(x, r.buffers.back()); });
    if (run == runs_.end()) run = runs_.empty() ? runs_.emplace(runs_.end()) : std::prev(runs_.end());
    run->buffers.insert(std::upper_bound(run->buffers.begin(), run->buffers.end(), next, after), next);
    run->live |= span_mask(next.first, next.last);
    if (run->buffers.size() > 2 * kRun) split(run);
  }

 private:
  static constexpr size_t kRun = 32;
  struct Run {
    std::vector<Placed> buffers;
    uint64_t live = 0;  // bit b: some buffer is live during the b-th 64th of the program
  };

  uint64_t span_mask(int first, int last) const {
    const int lo = first / bucket_, hi = last / bucket_;
    const uint64_t upto_hi = hi >= 63 ? ~uint64_t{0} : (uint64_t{2} << hi) - 1;
    return upto_hi & ~((uint64_t{1} << lo) - 1);
  }

  void split(std::vector<Run>::iterator run) {
    Run upper;
    upper.buffers.assign(run->buffers.begin() + kRun, run->buffers.end());
    run->buffers.resize(kRun);
    for (Run* r : {&*run, &upper}) {
      r->live = 0;
      for (const Placed& p : r->buffers) r->live |= span_mask(p.first, p.last);
    }
    runs_.insert(std::next(run), std::move(upper));
  }

  int bucket_;  // nodes per bit of a run's `live`
  std::vector<Run> runs_;
};

// The last node that reads each buffer: for each root of `alias`, the last reader of any
// value sharing it (a view read later still reads the buffer). O(graph).
std::vector<int> last_use_of_buffers(const ir::Graph& g, const std::vector<ir::ValueId>& alias) {
  auto root = [&](ir::ValueId v) { return root_of(alias, v); };
  std::vector<int> last(static_cast<size_t>(g.size()), -1);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    for (ir::ValueId x : g.node(v).inputs) last[root(x)] = v;
  }
  return last;
}

// A collective that keeps its operand's size and is the last reader of its buffer writes
// its result over it (Redistributor::run_consuming given out as in): an all-reduce of a gradient
// then copies nothing (0.4 ms of a 7 MB one here).
void run_collectives_in_place(const ir::Graph& g, const std::vector<bool>& persistent, std::vector<ir::ValueId>& alias) {
  const std::vector<int> last_use = last_use_of_buffers(g, alias);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& node = g.node(v);
    if (!ir::op_traits(node.op).collective || alias[v] >= 0 || persistent[v]) continue;
    const ir::ValueId x = node.inputs.at(0);
    if (alias[x] >= 0 || persistent[x] || last_use[x] != v || g.type(x).bytes() != g.type(v).bytes()) continue;
    alias[v] = x;
  }
}

// Buckets (partitioner/bucket.h) whose buffers the plan lays side by side, each value a
// whole number of cache lines, so that the runtime copies less. An all-reduce bucket whose
// members all run in place gets its operands laid out so: they are the flat buffer it
// reduces, nothing packed or unpacked (DDP's gradient_as_bucket_view). Any other gets its
// members' results laid out so where they are buffers of their own: the flat result the
// collective writes, nothing unpacked (a ZeRO reduce-scatter's blocks of every member).
// Either way the group is held from its first value to its last reader.
struct ViewBucket {
  ir::ValueId first;                 // its first member
  BucketView view;
  std::vector<ir::ValueId> values;   // its members' operands or results, in order
};

std::vector<ViewBucket> view_buckets(const ir::Graph& g, const std::vector<bool>& transient,
                                     const std::vector<ir::ValueId>& alias) {
  auto whole_lines = [&](ir::ValueId x) { return g.type(x).bytes() % MemoryPlan::kAlignment == 0; };
  std::vector<ViewBucket> views;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).attrs.i("bucket", -1) < 0 || joins_previous_in_bucket(g, v)) continue;  // not a first member
    const BucketCollective b = bucket_at(g, v);
    if (b.gathers) continue;  // its flat result interleaves the members': they are unpacked
    ViewBucket operands{v, BucketView::operands, {}}, results{v, BucketView::results, {}};
    for (ir::ValueId member : b.members) {
      const ir::ValueId x = g.node(member).inputs.at(0);
      if (alias[member] == x && transient[x] && whole_lines(x)) operands.values.push_back(x);
      if (transient[member] && whole_lines(member)) results.values.push_back(member);
    }
    if (b.blocks == 1 && operands.values.size() == b.members.size()) {
      views.push_back(std::move(operands));
    } else if (results.values.size() == b.members.size()) {
      views.push_back(std::move(results));
    }
  }
  return views;
}

std::vector<std::vector<ir::ValueId>> value_groups(const std::vector<ViewBucket>& views) {
  std::vector<std::vector<ir::ValueId>> groups;
  for (const ViewBucket& v : views) groups.push_back(v.values);
  return groups;
}

}  // namespace

MemoryPlan plan_memory(const ir::Graph& g, const std::vector<bool>& transient,
                       const std::vector<ir::ValueId>& alias, const std::vector<int>& live_until,
                       const std::vector<std::vector<ir::ValueId>>& groups) {
  const int n = g.size();
  auto root = [&](ir::ValueId v) { return root_of(alias, v); };
  std::vector<int> last(n);
  std::iota(last.begin(), last.end(), 0);
  for (int i = 0; i < n; ++i) {
    for (ir::ValueId v : g.node(i).inputs) last[root(v)] = std::max(last[root(v)], i);
  }
  for (size_t v = 0; v < live_until.size(); ++v) last[root(v)] = std::max(last[root(v)], live_until[v]);
  std::vector<Interval> intervals;
  MemoryPlan plan;
  plan.offset.assign(n, -1);
  std::vector<bool> grouped(n, false);
  for (size_t k = 0; k < groups.size(); ++k) {
    Interval group{static_cast<ir::ValueId>(k), n, -1, 0, true};
    for (ir::ValueId v : groups[k]) {
      grouped[v] = true;
      group.first = std::min(group.first, static_cast<int>(v));
      group.last = std::max(group.last, last[v]);
      group.bytes += aligned(g.type(v).bytes());
    }
    intervals.push_back(group);
    plan.naive_bytes += group.bytes;
  }
  for (int v = 0; v < n; ++v) {
    if (transient[v] && alias[v] < 0 && !grouped[v]) {
      intervals.push_back({v, v, last[v], aligned(g.type(v).bytes())});
      plan.naive_bytes += intervals.back().bytes;
    }
  }
  std::stable_sort(intervals.begin(), intervals.end(),
                   [](const Interval& a, const Interval& b) { return a.bytes > b.bytes; });
  PlacedBuffers placed(n);
  for (const Interval& it : intervals) {
    size_t offset = placed.first_fit(it.first, it.last, it.bytes);
    if (!it.group) {
      plan.offset[it.value] = static_cast<ptrdiff_t>(offset);
    } else {
      size_t member_offset = offset;
      for (ir::ValueId v : groups[static_cast<size_t>(it.value)]) {
        plan.offset[v] = static_cast<ptrdiff_t>(member_offset);
        member_offset += aligned(g.type(v).bytes());
      }
    }
    plan.arena_bytes = std::max(plan.arena_bytes, offset + it.bytes);
    placed.insert({offset, it.bytes, it.first, it.last});
  }
  for (int v = 0; v < n; ++v) {
    if (alias[v] >= 0) plan.offset[v] = plan.offset[root(v)];
  }
  return plan;
}

namespace {

// Which values share a buffer (`alias`), own one kept across steps (`persistent`), or take
// the arena (`transient`), and the updates that are copies: plan_program_memory's rules
// short of laying out the arena. O(graph).
struct Roles {
  std::vector<ir::ValueId> alias;
  std::vector<bool> persistent, transient, consumed;
  std::vector<std::pair<ir::ValueId, ir::ValueId>> copies;
};

Roles buffer_roles(const ir::Graph& g) {
  const int n = g.size();
  Roles r;
  r.alias.assign(n, -1);
  std::vector<int> last_read(n, -1);
  r.persistent.assign(n, false);
  for (int v = 0; v < n; ++v) {
    const ir::Node& node = g.node(v);
    for (ir::ValueId x : node.inputs) last_read[x] = v;
    r.persistent[v] = node.is_source();
    if (ir::op_traits(node.op).view) r.alias[v] = node.inputs[0];  // same bytes, new shape
  }
  auto root = [&](ir::ValueId v) { return root_of(r.alias, v); };
  for (auto [target, next] : g.updates) {
    const ir::Node& op = g.node(next);
    // In place when the optimizer op rewrites its own operand 0 and nothing reads the old
    // value afterwards: saves a copy of every param and moment per step.
    bool in_place = ir::op_traits(op.op).optimizer_update && op.inputs[0] == target && r.alias[next] < 0 && last_read[target] <= next;
    if (in_place) {
      r.alias[next] = target;
    } else {
      r.persistent[root(next)] = true;
      r.copies.emplace_back(target, next);
    }
  }
  for (const auto& [name, v] : g.outputs) r.persistent[root(v)] = true;
  run_collectives_in_place(g, r.persistent, r.alias);
  r.transient.assign(n, false);
  for (int v = 0; v < n; ++v) r.transient[v] = !r.persistent[v] && r.alias[v] < 0;
  const std::vector<int> last_use = last_use_of_buffers(g, r.alias);
  r.consumed.assign(n, false);
  for (int v = 0; v < n; ++v) {
    if (!ir::op_traits(g.node(v).op).collective) continue;
    const ir::ValueId x = root(g.node(v).inputs.at(0));
    r.consumed[v] = r.transient[x] && (last_use[x] == v || root(v) == x);  // the last reader, or writing over it
  }
  return r;
}

}  // namespace

std::vector<std::pair<ir::ValueId, BucketView>> bucket_views(const ir::Graph& g) {
  const Roles r = buffer_roles(g);
  std::vector<std::pair<ir::ValueId, BucketView>> firsts;
  for (const ViewBucket& v : view_buckets(g, r.transient, r.alias)) firsts.emplace_back(v.first, v.view);
  return firsts;
}

std::vector<bool> collectives_in_place(const ir::Graph& g) {
  const Roles r = buffer_roles(g);
  std::vector<bool> in_place(static_cast<size_t>(g.size()), false);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    in_place[v] = ir::op_traits(n.op).collective && root_of(r.alias, v) == root_of(r.alias, n.inputs.at(0));
  }
  return in_place;
}

std::vector<bool> collectives_consuming(const ir::Graph& g) { return buffer_roles(g).consumed; }

namespace {

// Per value: whether its buffer is some collective's operand or result.
std::vector<bool> moved_buffers(const ir::Graph& g, const std::vector<ir::ValueId>& alias) {
  std::vector<bool> root_moved(static_cast<size_t>(g.size()), false);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (!ir::op_traits(g.node(v).op).collective) continue;
    root_moved[root_of(alias, v)] = true;
    root_moved[root_of(alias, g.node(v).inputs.at(0))] = true;
  }
  std::vector<bool> moved(root_moved.size());
  for (ir::ValueId v = 0; v < g.size(); ++v) moved[v] = root_moved[root_of(alias, v)];
  return moved;
}

// The arena with the moved buffers first, apart from the others: each part planned alone,
// the unmoved one after the moved one's bytes.
MemoryPlan plan_apart(const ir::Graph& g, const std::vector<bool>& transient, const std::vector<bool>& moved,
                      const std::vector<ir::ValueId>& alias, const std::vector<int>& live_until,
                      const std::vector<std::vector<ir::ValueId>>& groups, size_t& moved_bytes) {
  std::vector<bool> near(transient.size()), far(transient.size());
  for (size_t v = 0; v < transient.size(); ++v) near[v] = transient[v] && moved[v], far[v] = transient[v] && !moved[v];
  std::vector<std::vector<ir::ValueId>> near_groups, far_groups;
  for (const auto& group : groups) {
    const bool all_moved = std::ranges::all_of(group, [&](ir::ValueId v) { return moved[v]; });
    (all_moved ? near_groups : far_groups).push_back(group);
  }
  MemoryPlan plan = plan_memory(g, near, alias, live_until, near_groups);
  const MemoryPlan rest = plan_memory(g, far, alias, live_until, far_groups);
  moved_bytes = aligned(plan.arena_bytes);
  for (size_t v = 0; v < moved.size(); ++v) {
    if (!moved[v] && rest.offset[v] >= 0) plan.offset[v] = static_cast<ptrdiff_t>(moved_bytes) + rest.offset[v];
  }
  plan.arena_bytes = moved_bytes + rest.arena_bytes;
  plan.naive_bytes += rest.naive_bytes;
  return plan;
}

}  // namespace

ProgramMemory plan_program_memory(const ir::Graph& g, PeerBuffers peers) {
  const int n = g.size();
  Roles r = buffer_roles(g);
  ProgramMemory m;
  m.alias = std::move(r.alias);
  m.copies = std::move(r.copies);
  m.consumed = std::move(r.consumed);
  m.owned.assign(n, false);
  for (int v = 0; v < n; ++v) {
    m.owned[v] = r.persistent[v] && m.alias[v] < 0;
    if (m.owned[v]) m.persistent_bytes += g.type(v).bytes();
  }
  std::vector<int> live_until(n, -1);
  const std::vector<ir::ValueId> waits = collective_wait_points(g, m.alias);
  for (int v = 0; v < n; ++v) {
    if (waits[v] < 0) continue;
    ir::ValueId wait = waits[v];
    live_until[v] = std::max(live_until[v], wait);
    live_until[g.node(v).inputs.at(0)] = std::max(live_until[g.node(v).inputs.at(0)], wait);
  }
  m.moved = moved_buffers(g, m.alias);
  const auto groups = value_groups(view_buckets(g, r.transient, m.alias));
  if (peers == PeerBuffers::apart) {
    m.arena = plan_apart(g, r.transient, m.moved, m.alias, live_until, groups, m.moved_bytes);
  } else {
    m.arena = plan_memory(g, r.transient, m.alias, live_until, groups);
  }
  return m;
}

ir::ValueId ProgramMemory::buffer_of(ir::ValueId v) const { return root_of(alias, v); }

size_t ProgramMemory::owned_bytes(const ir::Graph& g, const std::string& op) const {
  size_t bytes = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (owned[v] && g.node(v).op == op) bytes += g.type(v).bytes();
  }
  return bytes;
}

}  // namespace spmd::partitioner
