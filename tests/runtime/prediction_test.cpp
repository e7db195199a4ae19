// The simulator's peak memory is the executor's planned peak, for every plan runnable here.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"
#include "runtime/executor.h"

namespace spmd::runtime {
namespace {

TEST(Prediction, PeakMemoryIsTheExecutorsPlannedPeak) {
  for (const char* model : {"gpt:layers=2,d_model=16,heads=2,seq=8,vocab=32,batch=4",
                            "mlp:layers=2,hidden=16,batch=8,features=5,classes=3"}) {
    ir::Graph g = ir::training_step(ir::build_model(model), {});
    for (int ranks : {1, 2, 4}) {
      launcher::Topology t = partitioner::flat_topology(ranks);
      for (const std::string& strategy : partitioner::builtin_strategies()) {
        partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, ranks));
        partitioner::Program program = partitioner::lower(g, plan);
        partitioner::Prediction p = partitioner::predict_plan(plan, program, t, partitioner::device_model(t));
        auto cpu = kernels::make_cpu_backend();
        Executor executor(program.graph, *cpu, 0);
        EXPECT_EQ(p.peak_bytes, executor.peak_bytes()) << model << " " << strategy << " on " << ranks;
      }
    }
  }
}

}  // namespace
}  // namespace spmd::runtime
