// A Job's trace on one process: the file train() writes, its rank and its prediction, each
// step around its ops, the step reports' predicted and measured times, and the mistakes it
// reports.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "runtime/job.h"

namespace spmd::runtime {
namespace {

const char* kTinyGpt = "gpt:layers=1,d_model=16,heads=2,seq=8,vocab=32,batch=2";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

JobDescription traced(const std::string& path) {
  JobDescription d;
  d.program.model = kTinyGpt;
  d.trace = path;
  return d;
}

TEST(JobTrace, TrainWritesEveryStepOfTheRankAndThePrediction) {
  const std::string path = ::testing::TempDir() + "job_trace.json";
  Job job(traced(path));
  job.bind();
  job.train(2);
  nlohmann::json doc = read_json(path);
  std::map<int, std::string> processes;
  std::map<int, std::vector<nlohmann::json>> slices;
  for (const nlohmann::json& e : doc.at("traceEvents")) {
    if (e["name"] == "process_name") processes[e["pid"]] = e["args"]["name"];
    if (e["ph"] == "X") slices[e["pid"]].push_back(e);
  }
  EXPECT_EQ(processes, (std::map<int, std::string>{{0, "rank 0"}, {1, "predicted"}}));
  // Each step is a slice around its ops; every op carries what it computes and its bytes.
  std::map<int64_t, std::pair<double, double>> steps;
  for (const nlohmann::json& s : slices[0]) {
    if (s["name"].get<std::string>().rfind("step ", 0) == 0) steps[s["args"]["step"]] = {s["ts"], s["ts"].get<double>() + s["dur"].get<double>()};
  }
  ASSERT_EQ(steps.size(), 2u);
  size_t ops = 0;
  for (const nlohmann::json& s : slices[0]) {
    if (!s["args"].contains("op")) continue;
    ++ops;
    EXPECT_GE(s["dur"].get<double>(), 0);
    EXPECT_TRUE(s["args"].contains("value")) << s;
    EXPECT_TRUE(s["args"].contains("bytes")) << s;
    auto [begin, end] = steps.at(s["args"]["step"]);
    EXPECT_GE(s["ts"].get<double>(), begin) << s;
    EXPECT_LE(s["ts"].get<double>() + s["dur"].get<double>(), end) << s;
  }
  EXPECT_GT(ops, 0u);
  // The prediction lays one step of the same ops beside each measured one.
  EXPECT_EQ(slices[1].size(), ops);
}

TEST(JobTrace, StepsRunOneByOneAreWrittenOnRequest) {
  const std::string path = ::testing::TempDir() + "job_trace_steps.json";
  Job job(traced(path));
  job.bind();
  job.step();
  job.write_trace();
  const nlohmann::json doc = read_json(path);
  size_t steps = 0;
  for (const nlohmann::json& e : doc.at("traceEvents")) steps += e["name"] == "step 1";
  EXPECT_EQ(steps, 1u);
}

// Reports carry the cost model's step time and, timed on the CPU, the exposed communication.
TEST(JobTrace, StepReportsPredictedAndExposedTimes) {
  JobDescription d;
  d.program.model = kTinyGpt;
  Job job(d);
  job.bind();
  EXPECT_GT(job.predicted_step_time_s(), 0);
  StepReport r = job.step();
  ASSERT_TRUE(r.predicted_step_time_s.has_value());
  EXPECT_EQ(*r.predicted_step_time_s, job.predicted_step_time_s());
  ASSERT_TRUE(r.exposed_comm_s.has_value());
  EXPECT_GE(*r.exposed_comm_s, 0);
  EXPECT_LT(*r.exposed_comm_s, r.step_time_s);
}

TEST(JobTrace, WritingWithoutATraceFileIsAnError) {
  JobDescription d;
  d.program.model = kTinyGpt;
  Job job(d);
  job.bind();
  EXPECT_THROW(job.write_trace(), Error);
}

TEST(JobTrace, AMissingDirectoryFailsAtBindBeforeAnyStep) {
  Job job(traced(::testing::TempDir() + "no/such/dir/t.json"));
  EXPECT_THROW(job.bind(), Error);
}

}  // namespace
}  // namespace spmd::runtime
