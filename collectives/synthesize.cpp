#include "collectives/synthesize.h"

#include <algorithm>
#include <map>

#include "collectives/cost.h"
#include "collectives/cost_fit.h"
#include "collectives/step_groups.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

// The link a step's transfers cross: the outer level's, its bandwidth shared by the transfers
// that leave one node at once when that link is the network (one NIC per node): one per
// group for a ring, which crosses each node boundary once, but every member in the node
// for the butterflies and trees, whose rounds pair each member with one in another node.
LinkCost step_link(const launcher::Topology& t, const Step& s) {
  const launcher::Level& level = t.levels().at(s.outer_level);
  LinkCost link;
  link.latency_s = level.link.latency_s;
  link.bandwidth_Bps = level.link.bandwidth_Bps / s.concurrent;
  // A GPU adds buffers at its memory's speed (hundreds of GB/s), a CPU core at a few tens.
  bool gpus = t.num_devices() > 0 && t.device(0).kind == launcher::DeviceKind::gpu;
  link.reduce_Bps = gpus ? 500e9 : LinkCost{}.reduce_Bps;
  return link;
}

Step make_step(const launcher::Topology& t, const StepGroups& groups, Primitive p, Algorithm a, double bytes) {
  Step s{p, a, groups.outer_level, groups.inner_level, groups.group_size, 1, bytes, 0};
  bool shared = t.levels().at(groups.outer_level).link_kind == launcher::LinkKind::network;
  int leaving = a == Algorithm::ring ? 1 : groups.members_per_child;
  s.concurrent = shared ? groups.groups_per_child * leaving : 1;
  // The algorithm's own figures on the step's outer level, where a profile measured them.
  const auto& algorithms = t.levels().at(s.outer_level).algorithms;
  if (const launcher::MeasuredAlgorithm* m = measured_band(algorithms, to_string(p), a, bytes)) {
    s.predicted_s = measured_seconds(*m, a, s.group_size, bytes, s.concurrent);
  } else {
    s.predicted_s = predicted_seconds(to_string(p), a, s.group_size, bytes, step_link(t, s));
  }
  return s;
}

Schedule finish(Schedule s, std::string name) {
  s.name = std::move(name);
  for (const Step& step : s.steps) s.predicted_s += step.predicted_s;
  return s;
}

// Flat: one step of the primitive over every spanned level, with each of its algorithms.
void add_flat(const launcher::Topology& t, const CollectiveRequest& r, const std::vector<int>& spanned,
              std::vector<Schedule>& out) {
  StepGroups groups = step_groups(t, r.devices, spanned.front(), spanned.back());
  const auto& measured = t.levels().at(groups.outer_level).algorithms;
  for (Algorithm a : algorithms_of(to_string(r.primitive))) {
    // The backend's own collective is a candidate where a profile measured it at this size:
    // where ours are slower on this hardware, it wins (unmeasured, nothing says it would).
    if (a == Algorithm::native && !measured_band(measured, to_string(r.primitive), a, r.bytes)) continue;
    // Ours over node-shared memory likewise, and only among the cores of one node: it needs
    // every rank's buffer in host memory its peers can load (elsewhere it runs the ring).
    if (a == Algorithm::shared_memory && (!measured_band(measured, to_string(r.primitive), a, r.bytes) ||
                                          t.levels().at(groups.outer_level).link_kind == launcher::LinkKind::network ||
                                          (t.num_devices() > 0 && t.device(0).kind == launcher::DeviceKind::gpu))) {
      continue;
    }
    Schedule s{r.primitive, {make_step(t, groups, r.primitive, a, r.bytes)}, 0, ""};
    out.push_back(finish(std::move(s), "flat " + to_string(a)));
  }
}

// Nested all-reduce over `segments` (outermost first): reduce-scatter from the innermost
// segment outwards, all-reduce the shard on the outermost, all-gather back inwards.
void add_nested(const launcher::Topology& t, const CollectiveRequest& r,
                const std::vector<std::pair<int, int>>& segments, std::vector<Schedule>& out) {
  std::vector<StepGroups> groups;
  for (auto [outer, inner] : segments) {
    groups.push_back(step_groups(t, r.devices, outer, inner));
    if (!groups.back().uniform) return;  // shards would not line up across groups
  }
  const std::pair<Algorithm, Algorithm> rs_ag[] = {{Algorithm::ring, Algorithm::ring},
                                                   {Algorithm::recursive_halving_doubling, Algorithm::recursive_doubling}};
  for (auto [rs, ag] : rs_ag) {
    for (Algorithm ar : {Algorithm::ring, Algorithm::recursive_halving_doubling, Algorithm::recursive_doubling}) {
      Schedule s{Primitive::all_reduce, {}, 0, ""};
      double bytes = r.bytes;
      std::vector<Step> gathers;
      for (size_t i = groups.size() - 1; i >= 1; --i) {
        s.steps.push_back(make_step(t, groups[i], Primitive::reduce_scatter, rs, bytes));
        gathers.push_back(make_step(t, groups[i], Primitive::all_gather, ag, bytes));
        bytes /= groups[i].group_size;
      }
      s.steps.push_back(make_step(t, groups[0], Primitive::all_reduce, ar, bytes));
      s.steps.insert(s.steps.end(), gathers.rbegin(), gathers.rend());
      std::string name = "nested " + std::to_string(groups.size()) + " levels: rs/ag " + to_string(rs) + ", ar " + to_string(ar);
      out.push_back(finish(std::move(s), name));
    }
  }
}

// Every way to cut the spanned levels into contiguous runs, outermost first.
std::vector<std::vector<std::pair<int, int>>> compositions(const std::vector<int>& spanned) {
  std::vector<std::vector<std::pair<int, int>>> all;
  size_t cuts = spanned.size() - 1;
  for (unsigned mask = 0; mask < (1u << cuts); ++mask) {
    std::vector<std::pair<int, int>> segs;
    size_t start = 0;
    for (size_t i = 0; i < spanned.size(); ++i) {
      bool cut_after = i == spanned.size() - 1 || (mask >> i & 1u);
      if (cut_after) {
        segs.emplace_back(spanned[start], spanned[i]);
        start = i + 1;
      }
    }
    all.push_back(std::move(segs));
  }
  return all;
}

}  // namespace

std::vector<Schedule> synthesize(const launcher::Topology& t, const CollectiveRequest& r) {
  if (r.devices.empty()) throw Error("a collective needs at least one rank");
  for (int d : r.devices) {
    if (d < 0 || d >= t.num_devices()) {
      throw Error("device " + std::to_string(d) + " is not in the topology (" + std::to_string(t.num_devices()) +
                  " devices)");
    }
  }
  std::vector<int> spanned = t.levels_spanned(r.devices);
  if (spanned.empty()) return {Schedule{r.primitive, {}, 0, "local (one rank)"}};
  std::vector<Schedule> out;
  add_flat(t, r, spanned, out);
  if (r.primitive == Primitive::all_reduce) {
    for (const auto& segments : compositions(spanned)) {
      if (segments.size() > 1) add_nested(t, r, segments, out);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Schedule& a, const Schedule& b) { return a.predicted_s < b.predicted_s; });
  return out;
}

Schedule best_schedule(const launcher::Topology& t, const CollectiveRequest& r) { return synthesize(t, r).front(); }

double packing_seconds(double bytes, int ranks) {
  return (1 + 1.0 / std::max(ranks, 1)) * bytes / LinkCost{}.reduce_Bps;
}

Schedule best_schedule_over_pieces(const launcher::Topology& t, const CollectiveRequest& r) {
  std::vector<Schedule> candidates = synthesize(t, r);
  const int ranks = static_cast<int>(r.devices.size());
  // A schedule of several steps runs over pieces as the ring (Redistributor::choose).
  const auto packs = [&](const Schedule& s) { return s.steps.size() == 1 && packs_pieces(s.steps[0].algorithm, ranks); };
  // Only the backend's own (which always packs) is passed over: in place of ours that pack
  // (recursive doubling beyond 2 ranks), the ring over pieces ran mlp's ZeRO step on 4 ranks
  // over 2 cores 2-4% slower (larger buckets chosen, each ring step a turn of the ranks
  // sharing a core).
  const Schedule& best = candidates.front();
  if (best.steps.size() != 1 || best.steps[0].algorithm != Algorithm::native) return best;
  const double copies_s = packing_seconds(r.bytes, ranks);
  for (const Schedule& s : candidates) {
    if (!packs(s) && s.predicted_s <= best.predicted_s + copies_s) return s;
  }
  return best;
}

}  // namespace spmd::collectives
