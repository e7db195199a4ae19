// The trace writer: a document that a JSON parser reads back, in the Trace Event Format
// (metadata naming processes and threads, complete events in microseconds).
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "runtime/trace.h"

namespace spmd::runtime {
namespace {

TraceProcess rank(int pid) {
  TraceProcess p{pid, "rank " + std::to_string(pid), {}};
  p.slices.push_back({"matmul", Stream::compute, 0.001, 0.0005, {{"value", "%h"}, {"bytes", 4096}}});
  p.slices.push_back({"all-reduce along data", Stream::communication, 0.002, 0.25e-3,
                      {{"value", "%grad"}, {"bytes", 1024}, {"reason", "the update of %w keeps its sharding"}}});
  return p;
}

nlohmann::json round_trip(const nlohmann::json& doc) { return nlohmann::json::parse(doc.dump()); }

TEST(Trace, DocumentParsesBackWithItsTopLevelFields) {
  nlohmann::json doc = round_trip(trace_document({trace_events(rank(0)), trace_events(rank(1))}));
  ASSERT_TRUE(doc.at("traceEvents").is_array());
  EXPECT_EQ(doc.at("displayTimeUnit"), "ms");
  for (const nlohmann::json& e : doc["traceEvents"]) {
    for (const char* key : {"name", "ph", "pid", "tid"}) EXPECT_TRUE(e.contains(key)) << key << " in " << e;
  }
}

TEST(Trace, ProcessesAndThreadsAreNamed) {
  nlohmann::json doc = round_trip(trace_document({trace_events(rank(0)), trace_events(rank(1))}));
  std::set<std::string> processes, threads;
  for (const nlohmann::json& e : doc["traceEvents"]) {
    if (e["ph"] != "M") continue;
    if (e["name"] == "process_name") processes.insert(std::to_string(e["pid"].get<int>()) + ":" + e["args"]["name"].get<std::string>());
    if (e["name"] == "thread_name") threads.insert(e["args"]["name"].get<std::string>());
  }
  EXPECT_EQ(processes, (std::set<std::string>{"0:rank 0", "1:rank 1"}));
  EXPECT_EQ(threads, (std::set<std::string>{"compute", "communication"}));
}

TEST(Trace, SlicesAreCompleteEventsInMicrosecondsOnTheirStream) {
  nlohmann::json events = round_trip(trace_events(rank(3)));
  std::vector<nlohmann::json> slices;
  for (const nlohmann::json& e : events) {
    if (e["ph"] == "X") slices.push_back(e);
  }
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0]["name"], "matmul");
  EXPECT_EQ(slices[0]["pid"], 3);
  EXPECT_EQ(slices[0]["tid"], stream_tid(Stream::compute));
  EXPECT_DOUBLE_EQ(slices[0]["ts"].get<double>(), 1000);
  EXPECT_DOUBLE_EQ(slices[0]["dur"].get<double>(), 500);
  EXPECT_EQ(slices[0]["args"]["value"], "%h");
  EXPECT_EQ(slices[1]["tid"], stream_tid(Stream::communication));
  EXPECT_EQ(slices[1]["args"]["reason"], "the update of %w keeps its sharding");
  EXPECT_EQ(slices[1]["args"]["bytes"], 1024);
}

TEST(Trace, NegativeDurationIsWrittenAsZero) {
  TraceProcess p{0, "rank 0", {{"add", Stream::compute, 1.0, -1e-9, {}}}};
  for (const nlohmann::json& e : trace_events(p)) {
    if (e["ph"] == "X") {
      EXPECT_EQ(e["dur"].get<double>(), 0);
    }
  }
}

TEST(Trace, EmptyTraceIsStillADocument) {
  nlohmann::json doc = round_trip(trace_document({}));
  EXPECT_TRUE(doc["traceEvents"].empty());
}

}  // namespace
}  // namespace spmd::runtime
