// The project's collective algorithms against MPI's own collectives, measured in the same
// run: for each primitive and size (4 KiB to 64 MiB by default, in steps of 4x) the median
// time over several repetitions, each started after a barrier and counted as the slowest
// rank's time, of every algorithm and of MPI's collective (Algorithm::native: its blocking
// form, which under Open MPI runs coll/tuned's or han's algorithms, as a program's
// MPI_Allreduce does, collectives/mpi/mpi_native.cpp); the ratio
// mpi/ours (> 1: ours is faster) and the cost model's prediction. With --profile (written by
// `spmd profile` on the same ranks) each row also gets the prediction from the profile's
// fitted figures, the error of both against the measurement, and a last line counts the
// rows each predicts within 15%: the cost model before and after calibration (and how far
// the machine moved since the profile: the median of measured over profiled). With
// --repeats R the whole sweep runs R times, each row's median kept, and the summary says how
// many rows the bench itself reproduces (every run within 15% of their median): a row whose
// own runs disagree by more cannot show a prediction within 15% either. Where the ranks take
// turns on their PUs and the profile's choice left MPI's own out for a step (partitioner::
// native_kept_in_turns), the choice and MPI's own are timed in a step too
// (runtime::seconds_in_step), the context the choice is made for. Ranks wait for their peers
// as a job's ranks do: polling where each has PUs of its own, else backing off.
//
//   mpirun -np 2 bench_collectives [--all] [--json results.json] [--profile spmd-profile.json] [--repeats 3]
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/stats.h"
#include "common/units.h"
#include "collectives/cost.h"
#include "collectives/cost_fit.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "collectives/synthesize.h"
#include "collectives/timing.h"
#include "common/error.h"
#include "common/files.h"
#include "launcher/mpi_wait.h"
#include "launcher/world.h"
#include "kernels/backend.h"
#include "partitioner/profile.h"
#include "runtime/profile_run.h"
#include "runtime/profile_turns.h"

namespace {

using namespace spmd::collectives;

struct Options {
  int64_t min_bytes = 4 << 10;
  int64_t max_bytes = 64 << 20;
  int repetitions = 11;
  int repeats = 1;  // sweeps, each row's median kept
  bool all = false;
  std::string json_path;
  std::vector<std::string> primitives = {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "all_to_all"};
  LinkCost link;
  std::string profile_path;
  std::vector<spmd::launcher::MeasuredAlgorithm> measured;  // the profile's, for the job's ranks
  std::vector<spmd::launcher::MeasuredAlgorithm> choosable;  // of those, the ones a job bound with it chooses from
  // Where the ranks take turns on their PUs (with a profile): the kernels the choice is also
  // timed in a step with, where it left MPI's own out (runtime/profile_turns.h).
  spmd::kernels::Backend* step_backend = nullptr;
};

struct Row {
  std::string primitive;
  int64_t bytes;
  Algorithm algorithm;
  double ours_s, mpi_s, predicted_s;  // mpi_s: MPI's own, the faster of the two below
  double mpi_private_s = 0;  // MPI's own on private buffers (huge pages); native's row is on node-shared ones
  double profiled_s = 0;  // from the profile's fitted figures (0: none)
  bool chosen = false;    // the one the runtime would run at this size (with the profile)
  double spread = 0;      // over the sweeps: the largest distance of a run from their median, relative
  // The chosen one of ours and MPI's own in a step (a stretch of compute before each), where
  // the ranks take turns and the choice left MPI's own out for a step; 0: not timed.
  double step_ours_s = 0, step_mpi_s = 0;
};

// Median seconds of every algorithm of `primitive` (native first) on node-shared buffers, as
// a job's, then of MPI's own on private ones (huge pages), as a program's that calls MPI
// itself; each run the slowest rank's, all interleaved (collectives/timing.h).
std::vector<double> measure(MpiCommunicator& comm, const std::string& primitive, int64_t bytes,
                            const std::vector<Algorithm>& algorithms, int repetitions) {
  std::vector<spmd::collectives::CollectiveRun> runs =
      collective_runs(comm, primitive_from_string(primitive), algorithms, double(bytes));
  runs.push_back(spmd::collectives::collective_run(comm, primitive_from_string(primitive), Algorithm::native,
                                                   double(bytes), spmd::collectives::TimedMemory::private_pages));
  return time_interleaved(comm, runs, repetitions);
}

// Every algorithm's row; with a profile, MPI's own as a row too, and the one the profile
// predicts fastest marked chosen: what synthesis picks for a flat group (synthesize.h).
std::vector<Row> rows_for(MpiCommunicator& comm, const std::string& primitive, int64_t bytes, const Options& options) {
  const std::vector<Algorithm> algorithms = algorithms_of(primitive);
  const std::vector<double> medians = measure(comm, primitive, bytes, algorithms, options.repetitions);
  std::vector<Row> rows;
  const bool profiled = !options.measured.empty();
  for (std::size_t i = profiled ? 0 : 1; i < algorithms.size(); ++i) {
    // MPI's own at its faster, on a job's buffers or on a program's own.
    Row row{primitive, bytes, algorithms[i], medians[i], std::min(medians[0], medians.back()),
            predicted_seconds(primitive, algorithms[i], comm.size(), double(bytes), options.link)};
    row.mpi_private_s = medians.back();
    if (const auto* band = measured_band(options.measured, primitive, algorithms[i], double(bytes))) {
      row.profiled_s = measured_seconds(*band, algorithms[i], comm.size(), double(bytes));
    }
    rows.push_back(row);
  }
  if (profiled) {
    const auto band = [&](const Row& r) { return measured_band(options.choosable, primitive, r.algorithm, double(bytes)); };
    // As synthesize() chooses: the cheapest predicted, MPI's own among them.
    Row* fastest = nullptr;
    for (Row& r : rows) {
      if (band(r) && r.profiled_s > 0 && (!fastest || r.profiled_s < fastest->profiled_s)) fastest = &r;
    }
    if (fastest) fastest->chosen = true;
    const Row& native = rows.front();
    // MPI's own left out for a step: the choice is for a step, and timed in one too.
    if (fastest && fastest != &native && options.step_backend && band(native) == nullptr &&
        measured_band(options.measured, primitive, Algorithm::native, double(bytes))) {
      const std::vector<double> in_step = spmd::runtime::seconds_in_step(
          comm, *options.step_backend,
          collective_runs(comm, primitive_from_string(primitive), {Algorithm::native, fastest->algorithm}, double(bytes)));
      fastest->step_mpi_s = in_step[0];
      fastest->step_ours_s = in_step[1];
    }
  }
  return rows;
}

double error(double predicted, double measured) { return std::abs(predicted - measured) / measured; }

void print_row(const Row& row, bool profiled) {
  std::printf("%-15s %8s  %-27s %10.1f %10.1f %7.2fx %10.1f", row.primitive.c_str(),
              spmd::bytes_text(static_cast<double>(row.bytes)).c_str(),
              to_string(row.algorithm).c_str(), row.ours_s * 1e6, row.mpi_s * 1e6, row.mpi_s / row.ours_s,
              row.predicted_s * 1e6);
  if (profiled) {
    std::printf(" %6.0f%% %10.1f %6.0f%% %s", 100 * error(row.predicted_s, row.ours_s), row.profiled_s * 1e6,
                100 * error(row.profiled_s, row.ours_s), row.chosen ? "chosen" : "");
  }
  std::printf("\n");
}

// Where the ranks take turns and the choice left MPI's own out for a step: the choice
// against MPI's own timed in a step too, a row for each such size.
void print_in_step(const std::vector<Row>& rows) {
  const auto timed_in_step = [](const Row& r) { return r.chosen && r.step_ours_s > 0 && r.step_mpi_s > 0; };
  int sizes = 0, as_fast = 0;
  double worst = 1e9;
  for (const Row& r : rows) {
    if (!timed_in_step(r)) continue;
    ++sizes;
    as_fast += r.step_mpi_s / r.step_ours_s >= 1.0;
    worst = std::min(worst, r.step_mpi_s / r.step_ours_s);
  }
  if (sizes == 0) return;
  std::printf("where the ranks take turns, the choice left MPI's own out for a step at %d sizes; timed in a step "
              "(20 matmuls of 64^3 before each), at least MPI's speed at %d of them, worst %.2fx:\n",
              sizes, as_fast, worst);
  std::printf("  %-15s %8s  %-27s %10s %10s %10s %10s\n", "primitive", "size", "algorithm", "ours step", "mpi step",
              "in a step", "lined up");
  for (const Row& r : rows) {
    if (!timed_in_step(r)) continue;
    std::printf("  %-15s %8s  %-27s %10.1f %10.1f %9.2fx %9.2fx\n", r.primitive.c_str(),
                spmd::bytes_text(static_cast<double>(r.bytes)).c_str(), to_string(r.algorithm).c_str(),
                r.step_ours_s * 1e6, r.step_mpi_s * 1e6, r.step_mpi_s / r.step_ours_s, r.mpi_s / r.ours_s);
  }
}

// How far the machine moved since the profile: the median over the rows of measured over
// profiled, and the rows the profile, so scaled, puts within 15%. A profile is a snapshot:
// taken minutes apart on this VM, two profiles of 2 ranks read the bench's rows 15-30% slow
// at most sizes and within 15% at 159 of 168, and the machine's own collectives, not the
// shape of the profile's curves, had moved.
void print_drift(const std::vector<Row>& rows) {
  std::vector<double> ratios;
  for (const Row& r : rows) {
    if (r.profiled_s > 0) ratios.push_back(r.ours_s / r.profiled_s);
  }
  if (ratios.empty()) return;
  const double drift = spmd::median(ratios);
  int within = 0;
  for (const Row& r : rows) within += r.profiled_s > 0 && error(r.profiled_s * drift, r.ours_s) <= 0.15;
  std::printf("since the profile the rows ran at %.2fx its times (the median); the profile so scaled within 15%% at "
              "%d of %zu rows\n",
              drift, within, rows.size());
}

// How many rows each prediction puts within 15% of the measurement, and the worst error;
// over several sweeps, how many rows the bench reproduces, and the profile's count among them.
void print_summary(const std::vector<Row>& rows, int repeats) {
  int before = 0, after = 0, reproduced = 0, after_reproduced = 0;
  double worst_before = 0, worst_after = 0;
  for (const Row& r : rows) {
    before += error(r.predicted_s, r.ours_s) <= 0.15;
    after += error(r.profiled_s, r.ours_s) <= 0.15;
    worst_before = std::max(worst_before, error(r.predicted_s, r.ours_s));
    worst_after = std::max(worst_after, error(r.profiled_s, r.ours_s));
    if (r.spread > 0.15) continue;
    ++reproduced;
    after_reproduced += error(r.profiled_s, r.ours_s) <= 0.15;
  }
  std::printf("within 15%% of measured: default figures %d of %zu rows (worst %.0f%% off), profile %d of %zu "
              "(worst %.0f%% off)\n",
              before, rows.size(), 100 * worst_before, after, rows.size(), 100 * worst_after);
  if (repeats > 1) {
    std::printf("rows whose %d runs each lie within 15%% of their median: %d of %zu; the profile within 15%% at %d of them\n",
                repeats, reproduced, rows.size(), after_reproduced);
  }
  print_drift(rows);
  // The runtime's choice against MPI's own, per primitive and size, and the profile's
  // prediction of what the runtime would run.
  int sizes = 0, as_fast = 0, predicted = 0;
  double worst = 1e9, worst_predicted = 0;
  for (const Row& r : rows) {
    if (!r.chosen) continue;
    ++sizes;
    as_fast += r.mpi_s / r.ours_s >= 1.0;
    worst = std::min(worst, r.mpi_s / r.ours_s);
    predicted += error(r.profiled_s, r.ours_s) <= 0.15;
    worst_predicted = std::max(worst_predicted, error(r.profiled_s, r.ours_s));
  }
  std::printf("the choice (ours or MPI's, by the profile): at least MPI's speed at %d of %d sizes, worst %.2fx; "
              "the profile within 15%% of it at %d of %d (worst %.0f%% off)\n",
              as_fast, sizes, worst, predicted, sizes, 100 * worst_predicted);
  print_in_step(rows);
}

nlohmann::json to_json(const Row& row, int ranks) {
  nlohmann::json j = {{"primitive", row.primitive}, {"bytes", row.bytes}, {"ranks", ranks},
                      {"algorithm", to_string(row.algorithm)}, {"ours_s", row.ours_s}, {"mpi_s", row.mpi_s},
                      {"mpi_private_s", row.mpi_private_s},
                      {"predicted_s", row.predicted_s}, {"profiled_s", row.profiled_s}, {"chosen", row.chosen},
                      {"spread", row.spread}};
  if (row.step_ours_s > 0 || row.step_mpi_s > 0) {
    j["step_ours_s"] = row.step_ours_s;
    j["step_mpi_s"] = row.step_mpi_s;
  }
  return j;
}

// Every row of one sweep over the primitives and sizes, in order.
std::vector<Row> sweep(MpiCommunicator& comm, const Options& options) {
  std::vector<Row> rows;
  for (const std::string& primitive : options.primitives) {
    for (int64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= 4) {
      for (Row& row : rows_for(comm, primitive, bytes, options)) rows.push_back(std::move(row));
    }
  }
  return rows;
}

// The sweeps' rows with each time their median, and the spread of ours over the sweeps.
std::vector<Row> medians_of(const std::vector<std::vector<Row>>& sweeps) {
  std::vector<Row> rows = sweeps.front();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::vector<double> ours, mpi, mpi_private, step_ours, step_mpi;
    for (const std::vector<Row>& s : sweeps) {
      ours.push_back(s[i].ours_s), mpi.push_back(s[i].mpi_s), mpi_private.push_back(s[i].mpi_private_s);
      step_ours.push_back(s[i].step_ours_s), step_mpi.push_back(s[i].step_mpi_s);
    }
    rows[i].ours_s = spmd::median(ours);
    rows[i].mpi_private_s = spmd::median(mpi_private);
    rows[i].mpi_s = spmd::median(mpi);
    rows[i].step_ours_s = spmd::median(step_ours);
    rows[i].step_mpi_s = spmd::median(step_mpi);
    for (double x : ours) rows[i].spread = std::max(rows[i].spread, std::abs(x / rows[i].ours_s - 1));
  }
  return rows;
}

void run(const Options& options) {
  auto comm = MpiCommunicator::world();
  const bool printer = comm->rank() == 0;
  if (printer) {
    std::printf("bench_collectives: %d ranks, median of %d runs (slowest rank)%s, times in us; "
                "ratio = mpi / ours (> 1: ours faster); ours on node-shared buffers, as a job's, "
                "mpi the faster of MPI's own on those and on private ones (huge pages)\n",
                comm->size(), options.repetitions,
                options.repeats > 1 ? (", the median of " + std::to_string(options.repeats) + " sweeps").c_str() : "");
    std::printf("%-15s %8s  %-27s %10s %10s %8s %10s", "primitive", "size", "algorithm", "ours", "mpi", "ratio",
                "predicted");
    if (!options.measured.empty()) std::printf(" %7s %10s %7s", "err", "profiled", "err");
    std::printf("\n");
  }
  // The sweeps in turn: a machine that slows for a minute slows one run of every row.
  std::vector<std::vector<Row>> sweeps;
  for (int r = 0; r < options.repeats; ++r) sweeps.push_back(sweep(*comm, options));
  const std::vector<Row> all_rows = medians_of(sweeps);
  nlohmann::json records = nlohmann::json::array();
  for (std::size_t i = 0; i < all_rows.size();) {
    // One primitive and size: print the fastest of ours and the one chosen (or every one).
    std::size_t end = i;
    while (end < all_rows.size() && all_rows[end].primitive == all_rows[i].primitive &&
           all_rows[end].bytes == all_rows[i].bytes) {
      ++end;
    }
    const std::span<const Row> rows(all_rows.data() + i, end - i);
    const Row& best = *std::ranges::min_element(rows, {}, [](const Row& r) {
      return r.algorithm == Algorithm::native ? 1e300 : r.ours_s;  // the fastest of ours
    });
    for (const Row& row : rows) {
      if (printer && (options.all || &row == &best || row.chosen)) print_row(row, !options.measured.empty());
      records.push_back(to_json(row, comm->size()));
    }
    i = end;
  }
  if (printer && !options.measured.empty()) print_summary(all_rows, options.repeats);
  if (printer && !options.json_path.empty()) {
    spmd::write_file_atomically(options.json_path, records.dump(2) + "\n", "--json file");
  }
}

}  // namespace

// The profile's collectives: those of its level that has any (they were measured over all
// the ranks of the job that wrote it), into `options`; and those a job bound with it
// chooses from (partitioner/profile.h): where the ranks take turns on their PUs, MPI's own
// only where the profile timed them in a step faster than ours by the margin.
void read_collectives(const std::string& path, bool turns, bool lead, Options& options) {
  const spmd::partitioner::Profile profile = spmd::partitioner::read_profile(path);
  const std::string changed =
      spmd::partitioner::mpi_settings_changed(spmd::collectives::native_collective_settings(), profile.mpi_collectives);
  if (lead && !changed.empty()) {
    std::printf("the profile timed MPI's own collectives under other settings (%s): the choice follows those times\n",
                changed.c_str());
  }
  for (const spmd::partitioner::LevelProfile& l : profile.levels) {
    if (l.algorithms.empty()) continue;
    options.measured = options.choosable = l.algorithms;
    if (!turns) return;
    if (lead) std::printf("the ranks take turns on their PUs: a job chooses MPI's own collectives only where the "
                          "profile timed them in a step faster than ours by %.0f%%, or above the sizes it timed so\n",
                          100 * spmd::partitioner::kNativeInTurnsMargin);
    options.choosable = spmd::partitioner::native_kept_in_turns(l.algorithms, profile);
    return;
  }
  throw spmd::Error("profile '" + path + "' has no measured collectives: run spmd profile on 2 ranks or more");
}

int main(int argc, char** argv) {
  const spmd::launcher::World job;  // MPI started and finished within the collective deadline
  Options options;
  double latency_us = options.link.latency_s * 1e6, bandwidth_GBps = options.link.bandwidth_Bps / 1e9,
         reduce_GBps = options.link.reduce_Bps / 1e9;
  CLI::App app{"Collective algorithms against MPI's own collectives"};
  app.add_flag("--all", options.all, "print every algorithm, not only the fastest of ours");
  app.add_option("--json", options.json_path, "write every measurement to this JSON file");
  app.add_option("--primitives", options.primitives, "which primitives: all_gather,broadcast, or the flag once for each")
      ->delimiter(',')
      ->check(CLI::IsMember({"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}));
  app.add_option("--repetitions", options.repetitions, "runs per algorithm and size (median)")->check(CLI::Range(5, 1000));
  app.add_option("--repeats", options.repeats, "sweeps over every primitive and size, taken in turn (medians, and "
                 "how many rows the bench reproduces)")->check(CLI::Range(1, 100));
  // Sizes as 4KiB or 64MiB as well as in bytes (kB and MB are powers of 1000, KiB and MiB of 1024).
  app.add_option("--min-bytes", options.min_bytes, "smallest buffer (4KiB)")
      ->transform(CLI::AsSizeValue(true))
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--max-bytes", options.max_bytes, "largest buffer (64MiB)")
      ->transform(CLI::AsSizeValue(true))
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--latency-us", latency_us, "alpha of the cost model's prediction");
  app.add_option("--bandwidth-GBps", bandwidth_GBps, "1/beta of the prediction");
  app.add_option("--reduce-GBps", reduce_GBps, "1/gamma of the prediction");
  app.add_option("--profile", options.profile_path,
                 "a profile from spmd profile on these ranks: predict from its fitted figures too, and count the "
                 "rows each prediction gets within 15%");
  int status = 0;
  std::unique_ptr<spmd::kernels::Backend> step_backend;
  try {
    app.parse(argc, argv);
    // Tried before the sweeps, so that a path that cannot be written fails at once.
    if (!options.json_path.empty()) {
      job.on_lead([&] { spmd::try_writing(options.json_path, "--json file"); }, "checking where --json goes");
    }
    options.link = {latency_us * 1e-6, bandwidth_GBps * 1e9, reduce_GBps * 1e9};
    const spmd::launcher::Topology topology = spmd::launcher::discover_job(job.comm());
    // Ranks wait for their peers as a job's ranks and the profile's do (Job::bind): polling
    // where each has PUs of its own. Backing off instead, a rank asleep did not progress its
    // half of an exchange: on 2 ranks our broadcast of 16 MiB by scatter and all-gather took
    // 4.0 ms here against the profile's 2.5 ms.
    spmd::launcher::set_idle_wait(spmd::runtime::idle_wait_for(topology, job.size()));
    if (!options.profile_path.empty()) {
      const bool turns = spmd::partitioner::ranks_take_turns(topology);
      read_collectives(options.profile_path, turns, job.lead(), options);
      if (turns) step_backend = spmd::kernels::make_cpu_backend();
      options.step_backend = step_backend.get();
    }
    run(options);
  } catch (const CLI::ParseError& e) {
    status = app.exit(e);
  } catch (const spmd::Error& e) {
    std::fprintf(stderr, "bench_collectives: %s\n", e.what());
    status = 1;
  }
  return status;
}
