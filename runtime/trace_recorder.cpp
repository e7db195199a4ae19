#include "runtime/trace_recorder.h"

#include <algorithm>

#include "ir/ops.h"
#include "partitioner/cost_model.h"

namespace spmd::runtime {

TraceRecorder::TraceRecorder(const ir::Graph& graph, const std::vector<partitioner::CollectiveRecord>& collectives,
                             Clock::time_point origin)
    : graph_(graph),
      record_(graph.nodes.size(), -1),
      collectives_(collectives),
      labels_(graph.nodes.size()),
      origin_(origin) {
  for (size_t i = 0; i < collectives_.size(); ++i) record_.at(static_cast<size_t>(collectives_[i].at)) = static_cast<int>(i);
}

void TraceRecorder::add_step(int64_t step, double loss, Clock::time_point start, Clock::time_point end,
                             std::vector<LaunchTime> launches) {
  steps_.push_back({step, loss, since_origin(start), since_origin(end), std::move(launches)});
}

// A node's label is the same at every step: made once.
const TraceRecorder::Label& TraceRecorder::label(ir::ValueId v) const {
  std::optional<Label>& cached = labels_.at(static_cast<size_t>(v));
  if (cached) return *cached;
  const ir::Node& n = graph_.node(v);
  Label& l = cached.emplace(Label{n.op, {{"op", n.op}, {"value", ir::value_label(graph_, v)}}});
  if (int i = record_[static_cast<size_t>(v)]; i >= 0) {
    const partitioner::CollectiveRecord* r = &collectives_[static_cast<size_t>(i)];
    if (!r->steps.empty()) l.name = r->steps;
    l.args["moves"] = r->value;  // the global value, which the program names
    l.args["bytes"] = r->bytes;
    l.args["from"] = r->from;
    l.args["to"] = r->to;
  } else if (ir::op_traits(n.op).collective) {
    // Unrecorded (a program lowered elsewhere): the larger of its shards, as a record says.
    size_t in = n.inputs.empty() ? 0 : graph_.type(n.inputs[0]).bytes();
    l.args["bytes"] = std::max(in, n.type.bytes());
  } else {
    l.args["bytes"] = static_cast<int64_t>(partitioner::op_bytes(graph_, v));
    l.args["flops"] = partitioner::op_flops(graph_, v);
  }
  if (std::string reason = n.attrs.s("reason", ""); !reason.empty()) l.args["reason"] = reason;
  return l;
}

TraceSlice TraceRecorder::slice(ir::ValueId v, Stream stream, double start_s, double duration_s, int64_t step) const {
  const Label& l = label(v);
  TraceSlice out{l.name, stream, start_s, duration_s, l.args};
  out.args["step"] = step;
  return out;
}

TraceProcess TraceRecorder::measured(int rank) const {
  TraceProcess p{rank, "rank " + std::to_string(rank), {}};
  for (const Step& s : steps_) {
    p.slices.push_back({"step " + std::to_string(s.step), Stream::compute, s.start_s, s.end_s - s.start_s,
                        {{"step", s.step}, {"loss", s.loss}}});
    for (const LaunchTime& t : s.launches) {
      Stream stream = ir::op_traits(graph_.node(t.node).op).collective ? Stream::communication : Stream::compute;
      p.slices.push_back(slice(t.node, stream, t.start_s, t.end_s - t.start_s, s.step));
    }
  }
  return p;
}

TraceProcess TraceRecorder::predicted(int pid, const std::vector<PredictedLaunch>& step) const {
  TraceProcess p{pid, "predicted", {}};
  for (const Step& s : steps_) {
    double at = s.launches.empty() ? s.start_s : s.launches.front().start_s;
    for (const PredictedLaunch& l : step) p.slices.push_back(slice(l.node, l.stream, at + l.start_s, l.duration_s, s.step));
  }
  return p;
}

}  // namespace spmd::runtime
