// bench_search: how long the partitioner's search takes, against the model's depth (gpt
// with d_model 4096, 32 heads, seq 2048, batch 64) and the device count (DGX-2 nodes of 16
// V100s), printed as a table with the chosen plan. `bench_search [--layers 2,8,24]
// [--nodes 1,4,64] [--budget 200]`.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/search.h"

namespace {

using namespace spmd;

void row(int layers, int nodes, int budget) {
  auto start = std::chrono::steady_clock::now();
  ir::Graph g = ir::training_step(
      ir::build_model("gpt:layers=" + std::to_string(layers) + ",d_model=4096,heads=32,seq=2048,batch=64"), {});
  launcher::Topology t = launcher::load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", nodes, std::nullopt});
  double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  partitioner::SearchOptions o;
  o.budget = budget;
  partitioner::SearchResult r = partitioner::search_plan(g, t, o);
  std::string chosen, step = "-", peak = "-";
  try {
    const partitioner::Evaluated& best = r.best();
    chosen = best.name;
    step = std::to_string(best.prediction.step_time_s);
    peak = std::to_string(best.prediction.peak_bytes / (1024.0 * 1024 * 1024));
  } catch (const Error& e) {
    chosen = "none fits";
  }
  std::printf("%6d %6d %10s %5d %9.2f %9.2f  %-34s %9s %9s\n", layers, t.num_devices(), r.method.c_str(),
              r.simulations, build_s, r.seconds, chosen.c_str(), step.substr(0, 7).c_str(), peak.substr(0, 6).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"time the plan search against model depth and device count"};
  std::vector<int> layers{2, 8, 24}, nodes{1, 4, 64};
  int budget = 200;
  app.add_option("--layers", layers, "gpt depths")->delimiter(',')->check(CLI::Range(1, 1000000));
  app.add_option("--nodes", nodes, "DGX-2 node counts")->delimiter(',')->check(CLI::Range(1, 1000000));
  app.add_option("--budget", budget, "simulations the search may run")->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);
  std::printf("%6s %6s %10s %5s %9s %9s  %-34s %9s %9s\n", "layers", "GPUs", "search", "plans", "build s",
              "search s", "chosen plan", "step s", "peak GiB");
  for (int l : layers) {
    for (int n : nodes) row(l, n, budget);
  }
  return 0;
}
