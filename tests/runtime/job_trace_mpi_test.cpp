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

TEST(JobTraceMpi, RankZeroWritesEveryRanksTimeline) {
  launcher::World world;
  // One file per rank count: CTest may run the rank counts side by side.
  const std::string path = ::testing::TempDir() + "job_trace_np" + std::to_string(world.size()) + ".json";
  JobDescription d;
  d.program.model = "gpt:layers=1,d_model=16,heads=2,seq=8,vocab=32,batch=12";
  d.partitioning.strategy = "dp";
  d.trace = path;
  Job job(d);
  job.bind(&world);
  job.train(2);
  if (!world.lead()) return;
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in);
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

}  // namespace
}  // namespace spmd::runtime
