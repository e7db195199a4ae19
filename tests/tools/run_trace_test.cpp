// spmd run --trace: the Chrome / Perfetto trace of a run, on one rank and under mpirun.
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

struct Trace {
  std::map<int, std::string> processes;                // pid -> name
  std::map<int, std::set<std::string>> threads;        // pid -> thread names
  std::map<int, std::map<int, int>> slices;            // pid -> tid -> complete events
};

// Reads a trace file, checking on the way what every event of the format must have.
Trace read_trace(const std::string& path) {
  nlohmann::json doc = nlohmann::json::parse(slurp(path));  // throws on invalid JSON
  EXPECT_EQ(doc.at("displayTimeUnit"), "ms");
  Trace t;
  for (const nlohmann::json& e : doc.at("traceEvents")) {
    const int pid = e.at("pid");
    if (e.at("ph") == "M" && e.at("name") == "process_name") t.processes[pid] = e.at("args").at("name");
    if (e.at("ph") == "M" && e.at("name") == "thread_name") t.threads[pid].insert(e.at("args").at("name").get<std::string>());
    if (e.at("ph") != "X") continue;
    EXPECT_FALSE(e.at("name").get<std::string>().empty()) << e;
    EXPECT_GE(e.at("dur").get<double>(), 0) << e;
    EXPECT_GE(e.at("ts").get<double>(), 0) << e;
    ++t.slices[pid][e.at("tid")];
  }
  return t;
}

const std::set<std::string> kStreams{"compute", "communication"};

TEST(RunTrace, TwoRanksGiveBothRanksBothStreamsAndThePrediction) {
  const std::string path = ::testing::TempDir() + "t2.json";
  Result r = run(mpirun(2, "run gpt --steps 3 --trace " + path), /*raw=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Trace t = read_trace(path);
  EXPECT_EQ(t.processes, (std::map<int, std::string>{{0, "rank 0"}, {1, "rank 1"}, {2, "predicted"}}));
  for (int pid : {0, 1, 2}) {
    EXPECT_EQ(t.threads[pid], kStreams) << pid;
    // Data parallel: kernels on the compute stream, gradient all-reduces on the other.
    EXPECT_GT(t.slices[pid][1], 0) << pid;
    EXPECT_GT(t.slices[pid][2], 0) << pid;
  }
  EXPECT_EQ(t.slices[0], t.slices[1]);  // the same program on both ranks
}

TEST(RunTrace, OneRankHasItsRankAndThePrediction) {
  const std::string path = ::testing::TempDir() + "t1.json";
  Result r = run("run gpt:layers=1,d_model=32,heads=2,seq=16,vocab=64,batch=2 --steps 2 --trace " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Trace t = read_trace(path);
  EXPECT_EQ(t.processes, (std::map<int, std::string>{{0, "rank 0"}, {1, "predicted"}}));
  EXPECT_GT(t.slices[0][1], 0);
  EXPECT_EQ(t.slices[0][2], 0);  // nothing to communicate
}

TEST(RunTrace, UnwritableTraceFileFailsBeforeTraining) {
  Result r = run("run gpt --steps 3 --trace " + ::testing::TempDir() + "missing/dir/t.json");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("trace file"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("step "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace spmd::testing
