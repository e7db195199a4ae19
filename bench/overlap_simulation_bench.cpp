// bench_overlap_simulation: what overlapping communication with compute saves on clusters
// this machine is not, in the simulator (partitioner/simulator.h): the step time of dp, zero
// and dp+megatron with collectives on their own stream, as the runtime runs them on a host
// backend (issued as soon as their operand is final, partitioner/schedule.h), against the
// same program with each collective holding the compute stream (`spmd run --no-overlap`).
// Clusters: 4 DGX-2 nodes (64 V100s, NVSwitch inside, 100 Gbit/s between), and 16
// dual-socket CPU nodes (a device per socket) on 100 Gbit/s. The last columns add gradient
// buckets of the size the cost model chooses (partitioner/bucket.h) to the overlapped run,
// and ZeRO's param gathers prefetched as deep as it chooses (partitioner/prefetch.h).
//   build/bench/bench_overlap_simulation [--gpt layers=12,d_model=2048,heads=16,seq=1024,batch=64]
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "bench_errors.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/bucket.h"
#include "partitioner/lower.h"
#include "partitioner/prefetch.h"
#include "partitioner/simulator.h"
#include "partitioner/tactics.h"

namespace {

using namespace spmd;

void cluster(const std::string& name, const launcher::Topology& t, const ir::Graph& g) {
  const partitioner::DeviceModel device = partitioner::device_model(t);
  for (const char* strategy : {"dp", "zero", "dp+megatron"}) {
    try {
      partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, t.num_devices()));
      partitioner::Program program = partitioner::lower(g, plan);
      partitioner::CollectiveCosts costs(plan.mesh, t);
      partitioner::Prediction on = partitioner::simulate(program, device, costs, true);
      partitioner::Prediction off = partitioner::simulate(program, device, costs, false);
      const double bucket = partitioner::bucket_size(program, device, costs);
      partitioner::Prediction bucketed =
          partitioner::simulate(partitioner::bucket_gradients(program, bucket), device, costs, true);
      const std::string size = bucket > 0 ? std::to_string(static_cast<int>(bucket / 1024)) + " KiB" : "none";
      const partitioner::Program ops = partitioner::lower_ops(g, plan);
      const int depth = partitioner::prefetch_depth(ops, plan.rematerialize, device, costs, device.memory_bytes);
      partitioner::Prediction prefetched =
          partitioner::simulate(partitioner::finish_lowering(ops, plan.rematerialize, depth), device, costs, true);
      std::printf("%-22s %-12s %-16s %10.1f %10.1f %9.2fx %10.1f %10.1f %10s %10.1f %9d %10.1f\n", name.c_str(),
                  strategy, plan.mesh.to_string().c_str(), off.step_time_s * 1e3, on.step_time_s * 1e3,
                  off.step_time_s / on.step_time_s, off.exposed_comm_s * 1e3, on.exposed_comm_s * 1e3, size.c_str(),
                  bucketed.step_time_s * 1e3, depth, prefetched.step_time_s * 1e3);
    } catch (const Error& e) {
      std::printf("%-22s %-12s does not apply: %s\n", name.c_str(), strategy, e.what());
    }
  }
}

// Every cluster's rows for the gpt of `shape`.
int simulate(const std::string& shape) {
  ir::Graph g = ir::training_step(ir::build_model("gpt:" + shape), {});
  std::printf("gpt:%s, one step per device, simulated\n", shape.c_str());
  std::printf("%-22s %-12s %-16s %10s %10s %10s %10s %10s %10s %10s %9s %10s\n", "cluster", "plan", "mesh",
              "serial ms", "overlap ms", "speedup", "exposed", "exposed", "bucket", "bucketed", "prefetch", "prefetched");
  std::printf("%-22s %-12s %-16s %10s %10s %10s %10s %10s %10s %10s %9s %10s\n", "", "", "", "", "", "", "serial ms",
              "overlap ms", "", "ms", "depth", "ms");
  cluster("4 x DGX-2", launcher::load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", 4, std::nullopt}), g);
  cluster("16 x 2-socket CPU", launcher::load_topology({"synthetic:package:2 core:16", 16, launcher::DeviceKind::package}), g);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Step time with and without overlapping communication, simulated on clusters");
  std::string shape = "layers=12,d_model=2048,heads=16,seq=1024,batch=64";
  app.add_option("--gpt", shape, "the gpt's hyper-parameters");
  CLI11_PARSE(app, argc, argv);
  return bench::reporting_errors("bench_overlap_simulation", [&] { return simulate(shape); });
}
