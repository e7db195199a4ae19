// A Chrome trace: the Trace Event Format that chrome://tracing and Perfetto (ui.perfetto.dev)
// open as they are. A trace is a list of processes (a rank of the job, or the simulator's
// prediction), each with a thread per stream (compute, communication), and on each thread
// complete events ("ph": "X") whose times are microseconds since a common origin.
//
// The format is JSON, {"traceEvents": [...], "displayTimeUnit": "ms"}; processes and threads
// are named by metadata events ("ph": "M", process_name / thread_name), and sorted by
// process_sort_index / thread_sort_index so that rank 0 comes first and compute above
// communication. Events are plain JSON so that a rank can send its own to the rank that
// writes the file as text.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spmd::runtime {

// Where a slice ran: the kernels' stream or the collectives'.
enum class Stream { compute, communication };

// The thread id and name of a stream in a trace: 1 "compute", 2 "communication".
int stream_tid(Stream s);
const char* stream_name(Stream s);

// One slice of a timeline: an op, a collective, or a whole step.
struct TraceSlice {
  std::string name;                                 // "matmul", "all-reduce along data", "step 3"
  Stream stream = Stream::compute;
  double start_s = 0, duration_s = 0;               // since the trace's origin
  nlohmann::json args = nlohmann::json::object();   // what Perfetto shows for a selected slice
};

// One timeline of the trace.
struct TraceProcess {
  int pid = 0;                      // the rank; after the last rank for the prediction
  std::string name;                 // "rank 0", "predicted"
  std::vector<TraceSlice> slices;
};

// The events of one process: its process_name and process_sort_index (= pid), the name
// and sort index of both streams' threads, then each slice as a complete event with ts and
// dur in microseconds (a negative duration, which a clock cannot give, is written as 0).
// Cost: linear in the slices.
nlohmann::json trace_events(const TraceProcess& p);

// The trace document: the events of every array of `events` (trace_events' results) in
// order, under "traceEvents", with "displayTimeUnit": "ms". Cost: one copy of the events.
nlohmann::json trace_document(const std::vector<nlohmann::json>& events);

}  // namespace spmd::runtime
