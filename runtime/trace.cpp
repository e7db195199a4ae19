#include "runtime/trace.h"

#include <algorithm>

namespace spmd::runtime {
namespace {

nlohmann::json metadata(const char* what, int pid, int tid, nlohmann::json args) {
  return {{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

}  // namespace

int stream_tid(Stream s) { return s == Stream::compute ? 1 : 2; }

const char* stream_name(Stream s) { return s == Stream::compute ? "compute" : "communication"; }

nlohmann::json trace_events(const TraceProcess& p) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back(metadata("process_name", p.pid, 0, {{"name", p.name}}));
  events.push_back(metadata("process_sort_index", p.pid, 0, {{"sort_index", p.pid}}));
  for (Stream s : {Stream::compute, Stream::communication}) {
    events.push_back(metadata("thread_name", p.pid, stream_tid(s), {{"name", stream_name(s)}}));
    events.push_back(metadata("thread_sort_index", p.pid, stream_tid(s), {{"sort_index", stream_tid(s)}}));
  }
  for (const TraceSlice& slice : p.slices) {
    events.push_back({{"name", slice.name},
                      {"cat", stream_name(slice.stream)},
                      {"ph", "X"},
                      {"pid", p.pid},
                      {"tid", stream_tid(slice.stream)},
                      {"ts", slice.start_s * 1e6},
                      {"dur", std::max(0.0, slice.duration_s) * 1e6},
                      {"args", slice.args}});
  }
  return events;
}

nlohmann::json trace_document(const std::vector<nlohmann::json>& events) {
  nlohmann::json all = nlohmann::json::array();
  for (const nlohmann::json& some : events) {
    for (const nlohmann::json& e : some) all.push_back(e);
  }
  return {{"traceEvents", std::move(all)}, {"displayTimeUnit", "ms"}};
}

}  // namespace spmd::runtime
