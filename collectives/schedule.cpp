#include "common/units.h"
#include "collectives/schedule.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "launcher/topology.h"

namespace spmd::collectives {

std::string to_string(Primitive p) {
  switch (p) {
    case Primitive::all_reduce: return "all_reduce";
    case Primitive::reduce_scatter: return "reduce_scatter";
    case Primitive::all_gather: return "all_gather";
    case Primitive::broadcast: return "broadcast";
    case Primitive::reduce: return "reduce";
    case Primitive::all_to_all: return "all_to_all";
  }
  return "?";
}

Primitive primitive_from_string(const std::string& name) {
  std::string plain;
  for (char c : name) {
    if (c != '_' && c != '-') plain += c;
  }
  for (Primitive p : {Primitive::all_reduce, Primitive::reduce_scatter, Primitive::all_gather, Primitive::broadcast,
                      Primitive::reduce, Primitive::all_to_all}) {
    std::string candidate;
    for (char c : to_string(p)) {
      if (c != '_') candidate += c;
    }
    if (candidate == plain) return p;
  }
  throw Error("unknown collective '" + name +
              "' (expected allreduce, reducescatter, allgather, broadcast, reduce or alltoall)");
}

namespace {

}  // namespace

std::string describe(const Schedule& s, const launcher::Topology& t) {
  std::string out = to_string(s.collective) + ", " + s.name + ": predicted " + seconds_text(s.predicted_s) + "\n";
  int i = 0;
  for (const Step& step : s.steps) {
    const auto& levels = t.levels();
    std::string span = levels.at(step.outer_level).name;
    if (step.inner_level != step.outer_level) span += ".." + levels.at(step.inner_level).name;
    char line[256];
    std::snprintf(line, sizeof line, "  %d. %-14s %-26s levels %-16s %4d ranks %4d sharing  %10s  %s\n", ++i,
                  to_string(step.primitive).c_str(), to_string(step.algorithm).c_str(), span.c_str(), step.group_size,
                  step.concurrent, bytes_text(step.bytes).c_str(), seconds_text(step.predicted_s).c_str());
    out += line;
  }
  return out;
}

std::string level_segments(const Schedule& s, const launcher::Topology& topology) {
  std::vector<std::pair<int, int>> spans;
  for (const Step& step : s.steps) spans.emplace_back(step.outer_level, step.inner_level);
  std::ranges::sort(spans);
  auto [last, end] = std::ranges::unique(spans);
  spans.erase(last, end);
  std::string text;
  for (auto [outer, inner] : spans) {
    if (!text.empty()) text += " | ";
    text += topology.levels().at(outer).name;
    if (inner != outer) text += ".." + topology.levels().at(inner).name;
  }
  return text.empty() ? "-" : text;
}

}  // namespace spmd::collectives
