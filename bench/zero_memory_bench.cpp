// Per-rank memory of ZeRO against data parallelism: every rank builds the executor of its
// per-device program (allocating every buffer) and reports what it holds; rank 0 prints
// the largest figure over the ranks for each strategy, and the ratios.
//   mpirun -np 4 bench_zero_memory [--model gpt]
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "launcher/world.h"
#include "partitioner/lower.h"
#include "partitioner/tactics.h"
#include "runtime/executor.h"

namespace {

using namespace spmd;

struct Footprint {
  double state = 0, params = 0, arena = 0, peak = 0;  // bytes on this rank
};

// The largest of each rank's `x`, agreed within the World's deadline.
double largest(const launcher::World& job, double x) {
  double most = x;
  for (uint64_t bits : job.all_gather(std::bit_cast<uint64_t>(x), "a rank's memory figure")) {
    most = std::max(most, std::bit_cast<double>(bits));
  }
  return most;
}

Footprint measure(const ir::Graph& g, const std::string& strategy, const launcher::World& job,
                  collectives::MpiCommunicator& world, kernels::Backend& backend) {
  partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, world.size()));
  runtime::Executor ex(partitioner::lower(g, plan).graph, backend, 0, &world);
  const runtime::ProgramMemory& m = ex.memory();
  Footprint f{static_cast<double>(m.owned_bytes(ex.graph(), "state")), static_cast<double>(m.owned_bytes(ex.graph(), "param")),
              static_cast<double>(m.arena.arena_bytes), static_cast<double>(m.peak_bytes())};
  return {largest(job, f.state), largest(job, f.params), largest(job, f.arena), largest(job, f.peak)};
}

double mib(double bytes) { return bytes / (1 << 20); }

}  // namespace

int main(int argc, char** argv) {
  launcher::World job;  // MPI started and finished within the collective deadline
  CLI::App app{"Per-rank memory of zero against dp"};
  std::string model = "gpt";
  app.add_option("--model", model, "the model");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    collectives::MpiCommunicator world(job.comm());
    auto backend = kernels::make_cpu_backend();
    ir::Graph g = ir::training_step(ir::build_model(model), {});
    Footprint dp = measure(g, "dp", job, world, *backend);
    Footprint zero = measure(g, "zero", job, world, *backend);
    if (world.rank() == 0) {
      std::printf("%s, AdamW, %d ranks: largest per-rank figure (MiB)\n", model.c_str(), world.size());
      std::printf("%-18s %10s %10s %10s\n", "", "dp", "zero", "zero/dp");
      auto row = [](const char* name, double a, double b) { std::printf("%-18s %10.2f %10.2f %10.3f\n", name, mib(a), mib(b), b / a); };
      row("optimizer state", dp.state, zero.state);
      row("parameters", dp.params, zero.params);
      row("activations", dp.arena, zero.arena);
      row("peak", dp.peak, zero.peak);
    }
  } catch (const Error& e) {  // a model or strategy that does not fit these ranks: one line, no core
    std::fprintf(stderr, "bench_zero_memory: %s\n", e.what());
    return 2;
  }
  return 0;
}
