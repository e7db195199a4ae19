// spmd run MODEL|FILE.ir: trains, on one rank or partitioned over every rank of the job
// (--strategy, --tactics, --plan, --auto; the search by default on several ranks), and prints
// from rank 0 step, loss, step time and throughput; --metrics writes one JSON object per step.
// --checkpoint DIR --checkpoint-every K [--keep N] saves checkpoints; --resume DIR goes on
// from the newest complete one, on any rank count and plan, for --steps more steps.
// --trace FILE writes a Chrome / Perfetto trace of the run (runtime/trace.h).
// The job itself is runtime::Job; this file parses flags and prints.
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

#include <unistd.h>

#include "common/error.h"
#include "common/units.h"
#include "launcher/deadline_guard.h"
#include "launcher/peer_watch.h"
#include "runtime/job.h"
#include "runtime/metrics_file.h"
#include "tools/validators.h"
#include "tools/commands.h"
#include "tools/partition_options.h"
#include "tools/stop_signal.h"
#include "tools/program.h"
#include "tools/progress.h"
#include "tools/sizes.h"

namespace spmd::tools {
namespace {

struct RunOptions {
  runtime::JobDescription job;
  int64_t steps = 100;
  int64_t log_every = 10;
  std::string metrics;
  std::string seed_text = "0";
  std::string on_nonfinite = "stop";
  std::optional<double> timeout_s;
  std::string device = "auto";
  std::string profile;
  std::string replan = "never";
  std::string replan_threshold = "10%";
  std::string bucket = "auto";
  std::string prefetch = "auto";
};

// "auto" (the cost model's choice) or a depth (0, 1, 2, ...).
int parse_prefetch(const std::string& text) {
  if (text == "auto") return -1;
  try {
    size_t used = 0;
    const int depth = std::stoi(text, &used);
    if (used == text.size() && depth >= 0) return depth;
  } catch (const std::exception&) {
  }
  throw Error("--prefetch '" + text + "' is not a depth: expected auto or a whole number >= 0");
}

// "auto" (the cost model's choice), "none" or a size ("4MiB").
double parse_bucket(const std::string& text) {
  if (text == "auto") return -1;
  if (text == "none") return 0;
  return parse_size(text, "--bucket");
}

// "10%" or "0.1": the fraction a re-planning gain must exceed.
double parse_fraction(const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (std::isfinite(v) && used == text.size() && v >= 0) return v;
    if (std::isfinite(v) && used + 1 == text.size() && text.back() == '%' && v >= 0) return v / 100;
  } catch (const std::exception&) {
  }
  throw Error("--replan-threshold '" + text + "' is neither a percentage (10%) nor a fraction (0.1) of 0 or more");
}

// What a re-planning decided, as the log's lines.
void print_replan(const runtime::ReplanReport& r) {
  using Kind = runtime::ReplanReport::Kind;
  if (r.kind == Kind::realized) {
    std::printf("re-planned: %s\n", r.why.c_str());
    return;
  }
  std::printf("re-plan after step %lld: model refitted to the measured launches: %s\n", static_cast<long long>(r.step),
              r.fit.c_str());
  std::printf("  running %s: %.2f ms measured, %.2f ms predicted by the refitted model\n", r.from.c_str(),
              r.measured_s * 1e3, r.predicted_from_s * 1e3);
  if (r.predicted_to_s > 0) {
    std::printf("  best found %s: %.2f ms predicted\n", r.to.c_str(), r.predicted_to_s * 1e3);
  }
  std::printf("  %s\n", r.why.c_str());
}

void print_header(const runtime::Job& job, const RunOptions& o) {
  const ir::Graph& g = job.training_step();
  const runtime::Executor& ex = job.trainer().executor();
  std::printf("spmd run %s  (%s, lr %g, seed %llu)\n", g.meta.s("model", o.job.program.describe()).c_str(),
              g.meta.s("optimizer", "?").c_str(), o.job.program.lr.value_or(g.meta.f("lr", 1e-3)),
              static_cast<unsigned long long>(job.seed()));
  if (job.partitioned()) {
    std::printf("partitioned: %s on %d %s, mesh %s\n", job.plan_source().c_str(), job.ranks(),
                job.ranks() == 1 ? "rank" : "ranks", job.plan().mesh.to_string().c_str());
  }
  if (job.partitioned()) {
    const std::string size = job.bucket_bytes() > 0 ? "up to " + bytes_text(job.bucket_bytes()) : "none";
    auto who = [](runtime::Job::ScheduleSource s) {
      return s == runtime::Job::ScheduleSource::asked ? std::string() : std::string(" (") + runtime::to_string(s) + ")";
    };
    std::printf("gradient buckets: %s%s\n", size.c_str(), who(job.bucket_source()).c_str());
    std::printf("collectives: %s%s\n", ex.overlaps_communication() ? "overlapping compute" : "blocking, in program order",
                who(job.overlap_source()).c_str());
    if (job.gathers_params()) {
      std::printf("param gathers prefetched: %d ahead%s\n", job.prefetch(),
                  who(job.prefetch_source()).c_str());
    }
  }
  std::printf("data: %s\n", job.trainer().data().describe().c_str());
  std::printf("kernels: %s\n", std::string(ex.backend().name()).c_str());
  std::printf("memory: params, state and inputs %s; activations %s planned (%s without reuse)\n",
              bytes_text(ex.persistent_bytes()).c_str(), bytes_text(ex.memory_plan().arena_bytes).c_str(),
              bytes_text(ex.memory_plan().naive_bytes).c_str());
}

// Every rank's planned peak: the figure that decides whether a plan fits.
void print_memory_per_rank(const std::vector<uint64_t>& peaks) {
  if (peaks.size() < 2) return;
  std::string line = "peak memory per rank:";
  for (size_t r = 0; r < peaks.size(); ++r) line += (r ? ", r" : " r") + std::to_string(r) + " " + bytes_text(peaks[r]);
  std::printf("%s\n", line.c_str());
}

void print_resumed(const runtime::Resumed& r) {
  for (const std::string& skipped : r.skipped) {
    std::printf("checkpoint '%s' is incomplete (no manifest): using the previous complete one\n", skipped.c_str());
  }
  std::printf("resumed from '%s' at step %lld\n", r.path.c_str(), static_cast<long long>(r.step));
}

// "; rank 1 (pid 4711, on this host) does not answer: stopped or hung", from a probe of
// every rank (PeerWatch::unresponsive); "" when every rank answers or nothing watches.
std::string silent_ranks(launcher::PeerWatch* watch) {
  if (!watch) return "";
  const std::vector<launcher::PeerWatch::Lost> silent = watch->unresponsive();
  std::string text;
  for (const launcher::PeerWatch::Lost& rank : silent) text += (text.empty() ? "; " : ", ") + launcher::describe(rank);
  if (!text.empty()) text += silent.size() == 1 ? " does not answer: stopped or hung" : " do not answer: stopped or hung";
  return text;
}

void train_and_report(const RunOptions& o, const launcher::World& world) {
  runtime::JobDescription description = o.job;
  description.seed = parse_seed(o.seed_text);
  description.on_nonfinite = o.on_nonfinite == "skip" ? runtime::OnNonFinite::skip : runtime::OnNonFinite::stop;
  description.replan.when = runtime::parse_replan(o.replan);
  description.replan.threshold = parse_fraction(o.replan_threshold);
  description.bucket_bytes = parse_bucket(o.bucket);
  description.prefetch = parse_prefetch(o.prefetch);
  runtime::Job job = describe_job(description);
  runtime::JobBinding binding(&world);
  binding.timeout_s = o.timeout_s;
  binding.device = o.device;
  binding.profile = o.profile;
  job.bind(binding);
  const bool lead = world.lead();
  runtime::MetricsFile metrics(lead ? o.metrics : "", job.trainer().data().item_name());
  if (lead) print_header(job, o);
  if (lead && job.resumed()) print_resumed(*job.resumed());
  if (lead) {
    for (const std::string& note : job.profile_notes()) std::printf("profile: %s\n", note.c_str());
    if (!job.device_note().empty()) std::printf("device: %s\n", job.device_note().c_str());
  }
  const int64_t first = job.trainer().steps_done(), last = first + o.steps;
  std::vector<uint64_t> peaks = job.peak_bytes_per_rank();
  if (lead) print_memory_per_rank(peaks);
  const std::string item = job.trainer().data().item_name();
  // Under mpirun stdout is a pipe or pty of mpirun's, whatever the user's terminal: no bar.
  ProgressBar bar(lead && world.size() == 1 ? o.steps : 0);
  note_step(first);
  auto on_step = [&](const runtime::StepReport& r) {
    note_step(r.step);
    if (!lead) return;
    metrics.write(r);
    if (r.skipped) {
      bar.clear();
      std::printf("step %5lld  loss not finite: skipped, params and state as before it\n", static_cast<long long>(r.step));
    } else if (r.step == first + 1 || r.step % o.log_every == 0 || r.step == last) {
      bar.clear();
      std::printf("step %5lld  loss %.4f  %8.1f ms  %9.0f %s/s\n", static_cast<long long>(r.step), r.loss,
                  r.step_time_s * 1e3, r.items_per_s, item.c_str());
      std::fflush(stdout);
    }
    if (!r.replans.empty()) bar.clear();
    for (const runtime::ReplanReport& replan : r.replans) print_replan(replan);
    if (!r.checkpoint.empty()) {
      bar.clear();
      std::printf("checkpoint written: %s\n", r.checkpoint.c_str());
    }
    char status[64];
    std::snprintf(status, sizeof status, "loss %.4f", r.loss);
    bar.update(r.step - first, status);
  };
  job.train(o.steps, on_step);
  bar.clear();
  // The run's end is saved too, so that a run without an interval can be resumed.
  const runtime::CheckpointPolicy& policy = o.job.checkpoint;
  if (!policy.dir.empty() && (policy.every == 0 || last % policy.every != 0)) {
    std::string path = job.save(policy.dir, policy.keep);
    if (lead) std::printf("checkpoint written: %s\n", path.c_str());
  }
  metrics.close();
}

// A blocking MPI call that outlived its deadline (launcher/deadline_guard.h) fails the job
// as a wait that timed out does (main's JobFailure line, exit 3), at the step noted and
// naming the ranks that stopped answering; on the guard's thread, while the call holds MPI.
void fail_at_deadline(int rank, launcher::PeerWatch* watch, const std::string& message) {
  const int64_t step = noted_step();
  const std::string at = step >= 0 ? "step " + std::to_string(step) + ": " : "";
  const std::string line = failure_line(rank, at + launcher::deadline_passed_text(message) + silent_ranks(watch));
  note_failure(line);
  std::fprintf(stderr, "%s\n", line.c_str());
  failure_said();
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(kExitJobFailure);
}

// Watched from the start, setup included: a rank lost or stopped is named by the others.
void run(const RunOptions& o, const launcher::World& world) {
  std::unique_ptr<launcher::PeerWatch> watch;
  if (world.size() > 1) say_why_when_stopped(world.rank(), (watch = launcher::PeerWatch::join(world)).get());
  launcher::set_deadline_handler(
      [rank = world.rank(), w = watch.get()](const std::string& message) { fail_at_deadline(rank, w, message); });
  // Leaving this scope, by the end of training or by an error of this rank's own, is no loss.
  struct Unwatch {
    ~Unwatch() {
      launcher::set_deadline_handler(nullptr);
      stop_watching_peers();
    }
  } unwatch;
  try {
    train_and_report(o, world);
  } catch (const JobFailure& e) {
    // A wait that timed out knows only that some rank did not come: ask which.
    JobFailure named(e.what() + silent_ranks(watch.get()));
    note_failure(failure_line(world.rank(), named.what()));
    throw named;
  }
}

}  // namespace

void add_run_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Train a model (zoo spec or IR file)");
  add_program_options(*cmd, o->job.program);
  add_partition_options(*cmd, o->job.partitioning);
  add_search_options(*cmd, o->job.partitioning.search);
  cmd->add_option("--steps", o->steps, "training steps")->check(kStepCount);
  cmd->add_option("--seed", o->seed_text, "seed of the initial parameters and the data order (0 to 2^64-1)");
  cmd->add_option("--log-every", o->log_every, "print every K steps")->check(kStepCount);
  cmd->add_option("--metrics", o->metrics, "write one JSON object per step to this file");
  cmd->add_option("--trace", o->job.trace,
                  "write a Chrome / Perfetto trace (JSON) of every step to this file: each rank's ops and collectives "
                  "as measured, and the cost model's prediction");
  cmd->add_option("--bucket", o->bucket,
                  "gradient buckets: fuse gradients' all-reduces (and ZeRO's reduce-scatters and gathers of params) into collectives of up to this size (\"4MiB\"), \"none\", or "
                  "\"auto\": the size the cost model predicts fastest (the default)");
  cmd->add_option("--prefetch", o->prefetch,
                  "issue ZeRO's param gathers this many ahead (0: at first use), or \"auto\": the depth the cost model "
                  "predicts fastest within the device's memory (the default)");
  // A callback: CLI11 2.1 sets an optional<bool> flag to false when it is not given.
  cmd->add_flag_function("--overlap,!--no-overlap", [o](std::int64_t count) { o->job.overlap = count > 0; },
                "run collectives on their own thread, overlapping compute, or in program order, blocking (default: "
                "the faster by the cost model)");
  auto* dir = cmd->add_option("--checkpoint", o->job.checkpoint.dir, "save checkpoints in this directory");
  cmd->add_option("--checkpoint-every", o->job.checkpoint.every, "save a checkpoint every K steps")
      ->check(kStepCount)
      ->needs(dir);
  cmd->add_option("--keep", o->job.checkpoint.keep, "keep the newest N complete checkpoints (default 2)")
      ->check(kStepCount)
      ->needs(dir);
  cmd->add_option("--on-nonfinite", o->on_nonfinite,
                  "a step whose loss is NaN or infinite: stop the job (exit 3) or skip the step")
      ->check(CLI::IsMember({"stop", "skip"}));
  cmd->add_option("--device", o->device,
                  "where the kernels run: cpu, gpu (the rank's GPU, CUDA and cuBLAS), or auto: the GPU where the "
                  "rank's device is one (default)")
      ->check(CLI::IsMember({"cpu", "gpu", "auto"}));
  cmd->add_option("--profile", o->profile, "a profile from spmd profile: measured figures for the cost model");
  cmd->add_option("--replan", o->replan,
                  "re-plan while training: the cost model refitted to the measured kernels and collectives, the "
                  "plans searched again, and the job switched to the best when it is predicted faster by the "
                  "threshold; never (default), once after the first warm-up, or always after every one")
      ->check(CLI::IsMember({"never", "once", "always"}));
  cmd->add_option("--replan-threshold", o->replan_threshold,
                  "the predicted gain a new plan needs for the job to switch to it: 10% (default) or 0.1");
  cmd->add_option("--replan-after", o->job.replan.after,
                  "steps a plan runs before it is re-planned, the first two not measured (default 5, at least 3)")
      ->check(count_check(runtime::kWarmUpSteps + 1, int64_t{1} << 53));
  cmd->add_option("--timeout", o->timeout_s,
                  "seconds a collective may wait for a peer before the job fails naming it (default 60)")
      ->check(kTimeout);
  cmd->add_option("--resume", o->job.resume,
                  "go on from a checkpoint, or the newest complete one in this directory, for --steps more steps");
  cmd->callback([o, world] { run(*o, *world); });
}

}  // namespace spmd::tools
