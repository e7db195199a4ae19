// bench_weak_scaling: data parallelism (dp and zero) keeping each rank's batch fixed, against
// one rank alone with that batch, with the collectives overlapping compute, in program
// order (`spmd run --no-overlap`), and as the cost model chooses (what `spmd run` does
// unless told; the row says which it chose). Efficiency is one rank's median step time over the job's;
// beside it the paired efficiency, the median over the repeats of each repeat's own (its
// baseline over its row), which the machine's drift between repeats does not reach; the
// exposed communication is the part of a step its kernels did not cover
// (runtime/exposed_comm.h). The single-rank baseline is measured in the same run, by each
// rank alone in turn while the others wait, interleaved with the rows (--repeats), and the
// efficiency is against the slowest rank's: a step of the job waits for its slowest rank,
// and the cores of a shared machine differ (here one ran the same step 12% slower than the
// other, alone). Rank 0's column is beside it, and the efficiency against every rank running
// the single-rank job at once, with no collective between them: what the machine itself
// loses when all its cores work (here two lone jobs on the two cores each ran 8-9% slower
// than one alone), so that what is left is the job's communication. Each row's least and
// most over the repeats is beside it, and rank 0's alone above the table: the noise the
// medians stand in. Run under mpirun for
// each rank count, e.g.
//   for n in 2 4; do mpirun -np $n build/bench/bench_weak_scaling; done
// Each rank computes on one kernel thread, as the ranks of this machine share its cores.
// With --profile FILE (from `spmd profile` on the same ranks) the job's rows are bound with
// it, as `spmd run --profile` binds them: its collectives' algorithms, buckets and overlap
// chosen on the measured figures; the single-rank baselines need none.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_errors.h"
#include "common/stats.h"
#include "ir/models/zoo.h"
#include "launcher/world.h"
#include "partitioner/profile.h"
#include "runtime/job.h"

namespace {

using namespace spmd;

struct Measured {
  double step_s = 0, exposed_s = 0;  // medians
  bool overlapped = false;           // whether its collectives overlapped compute
};

// `overlap` unset: the cost model's choice (runtime::JobDescription::overlap).
Measured measure(const launcher::World* world, const std::string& model, const std::string& strategy,
                 std::optional<bool> overlap, int steps, const std::string& profile = "") {
  runtime::JobDescription d;
  d.program.model = model;
  if (!strategy.empty()) d.partitioning.strategy = strategy;
  d.overlap = overlap;
  runtime::Job job(std::move(d));
  runtime::JobBinding binding{world};
  binding.threads = 1;
  binding.profile = profile;
  job.bind(std::move(binding));
  std::vector<double> times, exposed;
  job.train(steps + 3, [&](const runtime::StepReport& r) {
    if (r.step <= 3) return;  // warm-up
    times.push_back(r.step_time_s);
    if (r.exposed_comm_s) exposed.push_back(*r.exposed_comm_s);
  });
  return {median(times), exposed.empty() ? 0 : median(exposed), job.overlap()};
}

// "88.18, 89.05": each rank's time, in ms.
std::string milliseconds(const std::vector<uint64_t>& ns) {
  std::string each;
  for (uint64_t t : ns) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%s%.2f", each.empty() ? "" : ", ", t / 1e6);
    each += ms;
  }
  return each;
}

// "86.42-91.53": the least and the most of `seconds`, in ms.
std::string range_ms(const std::vector<double>& seconds) {
  char text[48];
  const auto [least, most] = std::minmax_element(seconds.begin(), seconds.end());
  std::snprintf(text, sizeof text, "%.2f-%.2f", *least * 1e3, *most * 1e3);
  return text;
}

std::string gpt(int batch, const std::string& shape) { return "gpt:" + shape + ",batch=" + std::to_string(batch); }

}  // namespace

int main(int argc, char** argv) {
  launcher::World world;
  CLI::App app("Weak scaling of data parallelism against one rank, with and without overlap");
  int steps = 15, per_rank = 8, repeats = 3;
  std::string shape = "layers=2,d_model=256,heads=4,seq=128,vocab=256", profile;
  app.add_option("--steps", steps, "timed steps per run (median)")->check(CLI::Range(1, 1000000));
  app.add_option("--per-rank-batch", per_rank, "each rank's batch")->check(CLI::Range(1, 1000000));
  app.add_option("--gpt", shape, "the gpt's shape, without its batch");
  app.add_option("--repeats", repeats, "times the baseline and every row are measured, interleaved (median)")
      ->check(CLI::Range(1, 100));
  app.add_option("--profile", profile, "bind the job's rows with this profile (spmd profile on the same ranks)")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);
  // A shape or a profile the library refuses fails here, in one line on every rank, before any job.
  const int refused = bench::reporting_errors("bench_weak_scaling", [&] {
    ir::build_model(gpt(per_rank, shape));
    if (!profile.empty()) partitioner::read_profile(profile);
    return 0;
  });
  if (refused) return refused;
  // The baseline and the rows interleaved, `repeats` times: the machine's speed drifts over
  // seconds, and each figure is the median of its repeats.
  struct Row {
    std::string strategy;
    std::optional<bool> overlap;  // unset: the cost model's choice
    bool overlapped = false;      // whether its collectives overlapped compute (the model's choice where unset)
    Measured m;
    std::vector<double> step_s, exposed_s;
  };
  std::vector<Row> rows;
  for (const char* strategy : {"dp", "zero"}) {
    for (std::optional<bool> overlap : {std::optional<bool>(false), std::optional<bool>(true), std::optional<bool>()})
      rows.push_back({strategy, overlap, false, {}, {}, {}});
  }
  std::vector<double> alone_s, together_s;  // this rank's
  for (int r = 0; r < repeats; ++r) {
    for (int k = 0; k < world.size(); ++k) {
      if (world.rank() == k) alone_s.push_back(measure(nullptr, gpt(per_rank, shape), "", true, steps).step_s);
      world.all_gather(0, "the end of a rank's single-rank baseline");
    }
    together_s.push_back(measure(nullptr, gpt(per_rank, shape), "", true, steps).step_s);
    world.all_gather(0, "the end of the single-rank baselines run at once");
    for (Row& row : rows) {
      Measured m = measure(&world, gpt(per_rank * world.size(), shape), row.strategy, row.overlap, steps, profile);
      row.step_s.push_back(m.step_s);
      row.exposed_s.push_back(m.exposed_s);
      row.overlapped = m.overlapped;
    }
  }
  const std::vector<uint64_t> alone_ns = world.all_gather(static_cast<uint64_t>(median(alone_s) * 1e9), "the baselines");
  const std::vector<uint64_t> together_ns =
      world.all_gather(static_cast<uint64_t>(median(together_s) * 1e9), "the baselines run at once");
  const double slowest_s = *std::max_element(alone_ns.begin(), alone_ns.end()) / 1e9, lead_s = alone_ns[0] / 1e9;
  // Each repeat's slowest baseline, for the paired efficiencies: the machine drifts over
  // minutes (rank 0 alone ran 99-126 ms a step across five repeats of one run), and a row
  // set against the baseline of its own repeat leaves that drift out.
  std::vector<double> slowest_by_repeat;
  for (double s : alone_s) {
    const std::vector<uint64_t> each = world.all_gather(static_cast<uint64_t>(s * 1e9), "a repeat's baselines");
    slowest_by_repeat.push_back(*std::max_element(each.begin(), each.end()) / 1e9);
  }
  const auto paired = [&](const std::vector<double>& step_s) {
    std::vector<double> efficiency;
    for (size_t r = 0; r < step_s.size(); ++r) efficiency.push_back(slowest_by_repeat[r] / step_s[r]);
    return median(efficiency);
  };
  const double together_slowest_s = *std::max_element(together_ns.begin(), together_ns.end()) / 1e9;
  for (Row& row : rows) row.m = {median(row.step_s), median(row.exposed_s)};
  if (!world.lead()) return 0;
  std::printf("gpt %s, batch %d per rank; each rank alone: %s ms a step, all at once: %s (median of %d steps, of "
              "%d repeats)%s\n",
              shape.c_str(), per_rank, milliseconds(alone_ns).c_str(), milliseconds(together_ns).c_str(), steps,
              repeats, profile.empty() ? "" : ("; the job bound with the profile " + profile).c_str());
  if (repeats > 1) {
    std::printf("rank 0 alone over the repeats: %s ms\n", range_ms(alone_s).c_str());
  }
  // The job's ceiling here: its ranks each run a lone rank's step at the least, on cores
  // that also run the others'.
  std::printf("the single-rank job run on every rank at once keeps %.1f%% of the slowest rank's speed alone: "
              "the most a job of %d ranks can reach here\n",
              100 * slowest_s / together_slowest_s, world.size());
  std::printf("%5s %-5s %-10s %10s %11s %9s %11s %12s %12s %14s\n", "ranks", "plan", "overlap", "step ms", "efficiency",
              "paired", "vs rank 0", "vs at once", "exposed ms", "repeats ms");
  for (const Row& r : rows) {
    const std::string overlap = r.overlap ? (*r.overlap ? "on" : "off") : (r.overlapped ? "model: on" : "model: off");
    std::printf("%5d %-5s %-10s %10.2f %10.1f%% %8.1f%% %10.1f%% %11.1f%% %12.2f %14s\n", world.size(),
                r.strategy.c_str(), overlap.c_str(), r.m.step_s * 1e3, 100 * slowest_s / r.m.step_s,
                100 * paired(r.step_s), 100 * lead_s / r.m.step_s,
                100 * together_slowest_s / r.m.step_s, r.m.exposed_s * 1e3, range_ms(r.step_s).c_str());
  }
  return 0;
}
