// A Job's trace over the ranks of mpirun: rank 0's file holds every rank, each with both
// streams, and the prediction after them.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/job.h"

namespace spmd::runtime {
namespace {

// The trace of `steps` steps of `model` under `strategy` over the world, as rank 0 wrote it;
// null on the other ranks.
nlohmann::json traced(const launcher::World& world, const std::string& name, const std::string& model,
                      const std::string& strategy, int steps) {
  // One file per rank count: CTest may run the rank counts side by side.
  const std::string path = ::testing::TempDir() + name + "_np" + std::to_string(world.size()) + ".json";
  JobDescription d;
  d.program.model = model;
  d.partitioning.strategy = strategy;
  d.trace = path;
  Job job(d);
  job.bind(&world);
  job.train(steps);
  if (!world.lead()) return nullptr;
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(JobTraceMpi, RankZeroWritesEveryRanksTimeline) {
  launcher::World world;
  const nlohmann::json doc = traced(world, "job_trace", "gpt:layers=1,d_model=16,heads=2,seq=8,vocab=32,batch=12", "dp", 2);
  if (!world.lead()) return;
  std::map<int, std::string> processes;
  std::map<int, std::set<int>> streams;  // pid -> tids of its slices
  for (const nlohmann::json& e : doc.at("traceEvents")) {
    if (e["name"] == "process_name") processes[e["pid"]] = e["args"]["name"];
    if (e["ph"] == "X") streams[e["pid"]].insert(e["tid"].get<int>());
  }
  std::map<int, std::string> expected{{world.size(), "predicted"}};
  for (int r = 0; r < world.size(); ++r) expected[r] = "rank " + std::to_string(r);
  EXPECT_EQ(processes, expected);
  // Kernels on every rank; the gradients' all-reduces once there are ranks to reduce over.
  for (int pid = 0; pid <= world.size(); ++pid) {
    EXPECT_TRUE(streams[pid].contains(1)) << "pid " << pid;
    if (world.size() > 1) {
      EXPECT_TRUE(streams[pid].contains(2)) << "pid " << pid;
    }
  }
}

// The ranks' timelines share one clock: an all-reduce cannot end on any rank before every
// rank has entered it, so on a common clock each rank's span of it holds the last entry.
// With each rank's own origin, ranks taking turns on shared cores were a turn apart.
TEST(JobTraceMpi, EveryRanksSpanOfAnAllReduceHoldsTheLastRanksEntry) {
  launcher::World world;
  if (world.size() < 2) GTEST_SKIP() << "one rank: nothing to line up";
  const nlohmann::json doc = traced(world, "job_trace_clock", "mlp:batch=24,features=8,hidden=24,classes=4", "megatron", 8);
  if (!world.lead()) return;
  // step -> rank -> (start, end) of its first all-reduce
  std::map<int, std::map<int, std::pair<double, double>>> spans;
  for (const nlohmann::json& e : doc.at("traceEvents")) {
    if (e["ph"] != "X" || e["tid"] != 2 || e["pid"].get<int>() >= world.size()) continue;
    if (e["name"].get<std::string>().rfind("all-reduce", 0) != 0) continue;
    const int step = e["args"]["step"], rank = e["pid"];
    const double start = e["ts"], end = start + e["dur"].get<double>();
    if (!spans[step].contains(rank) || start < spans[step][rank].first) spans[step][rank] = {start, end};
  }
  ASSERT_FALSE(spans.empty()) << "megatron's step all-reduces its activations";
  for (const auto& [step, by_rank] : spans) {
    ASSERT_EQ(by_rank.size(), static_cast<size_t>(world.size())) << "step " << step;
    double last_entry = 0, first_exit = 1e300;
    for (const auto& [rank, span] : by_rank) {
      last_entry = std::max(last_entry, span.first);
      first_exit = std::min(first_exit, span.second);
    }
    EXPECT_LE(last_entry, first_exit) << "step " << step;
  }
}

}  // namespace
}  // namespace spmd::runtime
