// bench_idle_wait: how late a collective ends when one rank enters it after the others, with
// the waiting ranks backing off (sleeping between polls) against polling (launcher/mpi_wait.h,
// IdleWait). Each run lines the ranks up, then one rank (each in turn) computes for the
// stagger before it enters a ring all-reduce; the figure is the time from the last rank's
// entry to the last rank's exit, which a rank asleep when its peer arrives stretches. The
// two ways alternate run by run, so that drift in the machine's load hits both alike; each
// cell is the median of --runs, in us, and the ratio is back-off over polling (> 1: polling
// ends sooner). Ranks on one host (one steady clock), each on a core of its own, e.g.
//   mpirun -np 2 build/bench/bench_idle_wait
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "collectives/mpi/mpi_communicator.h"
#include "collectives/timing.h"
#include "common/stats.h"
#include "common/units.h"
#include "launcher/mpi_wait.h"
#include "launcher/world.h"

namespace {

using namespace spmd;
using Clock = std::chrono::steady_clock;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// Computes (reads the clock) for `seconds`, as a rank whose kernels took longer.
void compute_for(double seconds) {
  const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
  }
}

// One run: lined up, rank `late` computes `stagger_s` first; the seconds from the last
// entry to the last exit, the same on every rank.
double one_run(const launcher::World& world, const collectives::CollectiveRun& c, int late, double stagger_s) {
  c.prepare();
  world.all_gather(0, "the ranks lining up");
  if (world.rank() == late) compute_for(stagger_s);
  const uint64_t entered = now_ns();
  c.run();
  const uint64_t left = now_ns();
  const std::vector<uint64_t> entries = world.all_gather(entered, "the entries");
  const std::vector<uint64_t> exits = world.all_gather(left, "the exits");
  return (*std::max_element(exits.begin(), exits.end()) - *std::max_element(entries.begin(), entries.end())) / 1e9;
}

// Whether every rank of `world` shares this rank's host: one steady clock for all.
bool on_one_host(const launcher::World& world) {
  MPI_Comm node = MPI_COMM_NULL;
  launcher::arrive_together(world.comm(), world.timeout(), "checking the ranks share a host");
  MPI_Comm_split_type(world.comm(), MPI_COMM_TYPE_SHARED, world.rank(), MPI_INFO_NULL, &node);
  int size = 0;
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  return size == world.size();
}

}  // namespace

int main(int argc, char** argv) {
  launcher::World world;
  CLI::App app("A collective entered late by one rank: the others backing off against polling");
  int runs = 21;
  app.add_option("--runs", runs, "runs per size, stagger and way of waiting (median)")->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);
  if (world.size() < 2 || !on_one_host(world)) {
    if (world.lead()) std::fprintf(stderr, "bench_idle_wait: needs 2 ranks or more on one host (one steady clock)\n");
    return 1;
  }
  std::unique_ptr<collectives::MpiCommunicator> comm = collectives::MpiCommunicator::world();
  if (world.lead()) {
    std::printf("bench_idle_wait: %d ranks, a ring all-reduce entered by one rank (each in turn) a stagger after the "
                "others; last entry to last exit, median of %d runs, in us\n",
                world.size(), runs);
    std::printf("%10s %12s %10s %10s %8s\n", "size", "stagger us", "back off", "poll", "ratio");
  }
  for (double bytes : {4.0 * 1024, 256.0 * 1024, 1024.0 * 1024}) {
    const collectives::CollectiveRun c =
        collectives::collective_run(*comm, collectives::Primitive::all_reduce, collectives::Algorithm::ring, bytes);
    for (double stagger_s : {0.0, 100e-6, 500e-6, 2e-3}) {
      std::vector<double> backing_off, polling;
      for (int r = 0; r < 2 * runs; ++r) {
        const bool poll = r % 2 == 1;
        launcher::set_idle_wait(poll ? launcher::IdleWait::poll : launcher::IdleWait::back_off);
        (poll ? polling : backing_off).push_back(one_run(world, c, (r / 2) % world.size(), stagger_s));
      }
      launcher::set_idle_wait(launcher::IdleWait::back_off);
      if (world.lead()) {
        const double off = median(backing_off), on = median(polling);
        std::printf("%10s %12.0f %10.1f %10.1f %7.2fx\n", bytes_text(bytes).c_str(), stagger_s * 1e6, off * 1e6,
                    on * 1e6, off / on);
      }
    }
  }
  return 0;
}
