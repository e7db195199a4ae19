#include "common/units.h"
#include "tools/plan_placement.h"

#include <algorithm>
#include <cstdio>

#include "partitioner/placement.h"
#include "tools/topology_options.h"

namespace spmd::tools {
namespace {

std::string levels_text(const launcher::Topology& t, const std::vector<int>& levels) {
  if (levels.empty()) return "(one device)";
  std::string s;
  for (int l : levels) {
    const launcher::Level& level = t.levels()[l];
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s%s (%s, %.4g GB/s, %.3g us)", s.empty() ? "" : ", ", level.name.c_str(),
                  launcher::to_string(level.link_kind).c_str(), level.link.bandwidth_Bps / 1e9, level.link.latency_s * 1e6);
    s += buf;
  }
  return s;
}

}  // namespace

std::string placement_report(const launcher::Topology& t, const partitioner::Plan& plan,
                             const partitioner::Program& program, size_t top) {
  std::string out = "\nplacement on " + topology_summary(t) + "\n";
  for (const auto& p : partitioner::place_mesh(plan.mesh, t)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-8s %4d devices  ", p.axis.c_str(), p.size);
    out += buf + levels_text(t, p.levels) + "\n";
  }
  std::vector<partitioner::CollectiveCost> costs = partitioner::cost_collectives(program, plan.mesh, t);
  double total = 0;
  for (const auto& c : costs) total += c.predicted_s;
  out += "predicted communication per step: " + seconds_text(total) + " over " + std::to_string(costs.size()) +
         " collectives, each as the schedule synthesized for its axis";
  if (costs.empty()) return out + "\n";
  std::stable_sort(costs.begin(), costs.end(), [](const auto& a, const auto& b) { return a.predicted_s > b.predicted_s; });
  out += "; the costliest:\n";
  for (size_t i = 0; i < std::min(top, costs.size()); ++i) {
    const partitioner::CollectiveRecord& r = program.collectives[costs[i].record];
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %10s  %-24s %s\n", seconds_text(costs[i].predicted_s).c_str(), r.value.c_str(), r.steps.c_str());
    out += buf;
  }
  return out;
}

}  // namespace spmd::tools
