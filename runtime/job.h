// spmd::runtime::Job: a training job as a library call, in three stages as hwloc's
// init > configure > load:
//
//   1. describe: Job job({program, partitioning, seed, data}): the training step is built
//      (zoo spec, IR file, or a Graph made in code, differentiated when it is a forward
//      pass). No MPI, no hardware; a user's mistake throws spmd::Error here.
//   2. bind: job.bind({&world}): the job's ranks and hardware (the topology discovered over
//      the world, kernel threads shared out among ranks on the same cores, the CPU backend),
//      the plan chosen for that many devices and lowered to this rank's program, buffers
//      allocated and params initialised. Collective over the world.
//   3. run: job.step() or job.train(n, on_step), collective over the world; every rank gets
//      the same StepReport (loss of the global batch). With JobDescription::trace, train()
//      ends by writing a trace of the steps run.
//
// The `spmd run` command is this class behind flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "launcher/topology.h"
#include "launcher/world.h"
#include "partitioner/choose.h"
#include "partitioner/lower.h"
#include "runtime/checkpoint_manifest.h"
#include "runtime/data.h"
#include "runtime/predicted_timeline.h"
#include "runtime/program.h"
#include "runtime/replan.h"
#include "runtime/trace_recorder.h"
#include "runtime/trainer.h"

namespace spmd::runtime {

// Where and how often a job saves checkpoints (runtime/checkpoint.h, docs/checkpoint.md).
struct CheckpointPolicy {
  std::string dir;     // checkpoints go to dir/step-NNNNNNNN
  int64_t every = 0;   // after every `every` steps (0: only when save() is called)
  int keep = 2;        // the newest complete checkpoints kept; older ones are removed
};

// Which checkpoint a resumed job started from.
struct Resumed {
  std::string path;                  // the checkpoint directory read
  int64_t step = 0;                  // steps it had done: training goes on from step + 1
  std::vector<std::string> skipped;  // newer checkpoints passed over as incomplete
};

// What a step whose loss, or a gradient, is not finite (NaN, an infinity; a gradient shows in
// the param it spoiled, which every step checks) does: stop the job (spmd::JobFailure naming
// the step and the loss or param; the last checkpoint is intact), or skip it (the params and
// state restored to before it, at the cost of a copy of them each step).
enum class OnNonFinite { stop, skip };

struct JobDescription {
  ProgramSource program;                 // what to train
  partitioner::PlanRequest partitioning; // how to split it (nothing: dp on several ranks)
  uint64_t seed = 0;                     // initial params and the built-in data's order
  // The program's own data, filled per step for this rank's rows; unset: the graph's
  // built-in source (a corpus for a language model, a synthetic task for a classifier).
  FillFeeds data;
  std::string data_item = "samples";     // what the callback's batch rows are, for throughput
  CheckpointPolicy checkpoint;           // where train() saves checkpoints
  // A checkpoint, or a directory of them (its newest complete one): bind() loads its params
  // and state into this job's plan, whatever the saved one was, and training goes on from
  // its step with its data position and seed.
  std::string resume;
  OnNonFinite on_nonfinite = OnNonFinite::stop;
  // Where to write a Chrome / Perfetto trace (runtime/trace.h) of the steps the job runs:
  // every rank's ops and collectives as measured, and the simulator's step beside them.
  // train() writes it when it returns, write_trace() whenever called; empty: no trace.
  // Tracing times every launch (two clock reads, and on a GPU a synchronisation after each
  // kernel) and keeps each launch's times until the file is written.
  std::string trace;
  // Whether collectives overlap compute where they can (executor.h); false runs them in
  // program order, blocking: what `spmd run --no-overlap` measures against. Unset: the
  // cost model's choice (partitioner/tuning.h), blocking where the communication thread
  // would share the main thread's core and gain less than its hand-offs cost.
  std::optional<bool> overlap;
  // Gradient buckets (partitioner/bucket.h): the largest bucket in bytes per device, 0 for
  // none, or negative for the size the cost model predicts fastest (run as collectives run).
  double bucket_bytes = -1;
  // How many of ZeRO's param gathers ahead are issued (partitioner/prefetch.h), or negative
  // for the depth the cost model predicts fastest within the device's memory.
  int prefetch = -1;
  // Whether, when and on what predicted gain the job re-plans while it trains (replan.h):
  // never by default. A re-planning job cannot also write a trace (a trace follows one
  // program).
  ReplanPolicy replan;
};

struct JobBinding {
  // The job's ranks; null: this process alone (no MPI needed).
  const launcher::World* world = nullptr;
  // The job's hardware, device i = rank i; unset: discovered over the world (hwloc on every
  // rank, one all-gather) when it has several ranks.
  std::optional<launcher::Topology> topology;
  // Kernel threads of this rank; 0: the cores of its device, shared out among the ranks
  // bound to the same cores (runtime/threads.h).
  int threads = 0;
  // How long any wait of a collective may last before the job fails naming the peer (a
  // dead or stopped rank), discovery and the world's agreements included (bind sets it on
  // the world); unset: 60 s, or SPMD_COLLECTIVE_TIMEOUT_S.
  std::optional<double> timeout_s;
  // Where the kernels run: "cpu", "gpu" (the rank's GPU), or "auto": the GPU where the
  // rank's device is one (runtime/device_choice.h).
  std::string device = "auto";
  // A profile written by `spmd profile` (partitioner/profile.h): its measured figures
  // replace the cost model's defaults for planning and for the collectives' schedules.
  std::string profile;
  // On a host backend, rank 0 measures its kernels at bind (tens of ms, the others
  // waiting), and every rank plans with what it measured: the program's own ops, whose
  // costs no profile holds, and without a profile the matmul and memory rates in place of
  // the device table's CPU figures. false: the table's and the profile's figures only (the
  // same plan on any machine).
  bool calibrate = true;

  JobBinding() = default;
  JobBinding(const launcher::World* w) : world(w) {}  // NOLINT: bind(&world) reads well
};

class Job {
 public:
  // Describe. Throws spmd::Error for a bad program (see load_training_step).
  explicit Job(JobDescription description);
  ~Job();
  Job(Job&&) noexcept;
  Job& operator=(Job&&) noexcept;

  // Bind: chooses the plan for the world's ranks (spmd::Error when it does not apply),
  // lowers it, discovers the hardware, builds the backend and the trainer. Collective.
  void bind(JobBinding binding = {});
  bool bound() const { return trainer_ != nullptr; }

  // Run one step, or `steps` steps calling `on_step` after each. Collective. A loss that is
  // not finite throws spmd::JobFailure, or skips the step (OnNonFinite); a failed
  // collective (a lost or stopped peer) throws spmd::JobFailure naming the step, but for
  // MPI's own collectives run blocking, whose deadline ends the process
  // (launcher/deadline_guard.h, set_deadline_handler to say more). Each report
  // carries the cost model's predicted step time, and the measured exposed communication
  // of the steps whose launches are timed: every step on a host backend or with a trace,
  // every tenth on a device (timing a GPU's kernels synchronises after each).
  StepReport step();
  void train(int64_t steps, const std::function<void(const StepReport&)>& on_step = {});

  // Saves a checkpoint of the params and state to `dir`/step-NNNNNNNN, keeping the newest
  // `keep`. Collective. Returns its path; throws spmd::JobFailure when it cannot be written.
  std::string save(const std::string& dir, int keep = 2);
  // Writes the trace of every step run so far to JobDescription::trace: rank 0 writes the
  // file atomically, with every other rank's events, gathered once (each wait with the
  // collective deadline). Collective. Throws spmd::Error when the job has no trace file,
  // spmd::JobFailure (on every rank) when it cannot be written.
  void write_trace();
  // Every re-planning decision so far, and every switch's realized gain (replan.h), in
  // order; each step's report carries those made after it.
  const std::vector<ReplanReport>& replans() const { return replans_; }
  // The checkpoint bind() resumed from, if any.
  const std::optional<Resumed>& resumed() const { return resumed_; }
  // What the profile changed, one line per figure (empty without a profile).
  const std::vector<std::string>& profile_notes() const { return profile_notes_; }
  // What bind measured of the device (JobBinding::calibrate): "matmul 212.3 GFLOP/s at
  // best, ..., 0.4 us per kernel, 17 ops of the program timed, measured at start in 90 ms
  // (no profile)"; "" when it measured nothing.
  const std::string& device_note() const { return device_note_; }

  // The global training step (describe) and, once bound, the plan and this rank's program.
  const ir::Graph& training_step() const { return graph_; }
  const partitioner::Plan& plan() const;
  const partitioner::Program& program() const;
  std::string plan_source() const;  // "strategy dp (the default ...)", "tactics FILE", ...
  bool partitioned() const { return partitioned_; }
  uint64_t seed() const { return description_.seed; }
  int rank() const;
  int ranks() const;
  const launcher::Topology* topology() const { return topology_.get(); }
  // The cost model's time of one step of this rank's program (partitioner/simulator.h), on
  // the job's topology and device model, plus what the step does outside it
  // (outside_program_seconds). Set by bind().
  double predicted_step_time_s() const { return predicted_step_time_s_; }
  // What checking after a step that its params are finite takes a rank: a pass over its
  // params, the median of 5 at bind, the slowest rank's. Part of every step. Set by bind().
  double finite_check_seconds() const { return finite_check_s_; }
  // What agreeing on that check takes the ranks (one small all-gather, lined up): the median
  // of 5 at bind, the slowest rank's; 0 on one rank. Part of every step. Set by bind().
  double agreement_seconds() const { return agreement_s_; }
  // Feeding a step's batch, the slowest rank's, timed at bind (Trainer::feed_seconds).
  double feed_seconds() const { return feed_s_; }
  // What a step holds outside its program, as the predicted step counts it: the feed and the
  // finite check, at the rank's share of its PUs where ranks take turns on them (they are
  // the rank's compute, timed within a turn at bind), and the agreement as timed. O(devices).
  double outside_program_seconds() const;
  // Who chose each part of the program's schedule: "asked" (the description), "the plan's"
  // (the schedule the plan was costed with: a search's winner, a plan file) or "the cost
  // model's choice" (made at bind).
  enum class ScheduleSource { asked, plan, cost_model };
  // The gradient bucket size the program runs with (0: none), and who chose it. Set by bind().
  double bucket_bytes() const { return bucket_bytes_; }
  ScheduleSource bucket_source() const { return bucket_source_; }
  // The depth ZeRO's gathers are prefetched to and who chose it; whether the program gathers
  // params at all. Set by bind().
  int prefetch() const { return prefetch_; }
  ScheduleSource prefetch_source() const { return prefetch_source_; }
  // Whether the schedule has collectives overlap compute (on a communication thread) or
  // block, and who chose it (the executor overlaps only where it can: executor.h). Set by
  // bind().
  bool overlap() const { return overlap_; }
  ScheduleSource overlap_source() const { return overlap_source_; }
  bool gathers_params() const { return gathers_params_; }
  Trainer& trainer();
  const Trainer& trainer() const;

  // Every rank's planned peak memory per step, in rank order. Collective.
  std::vector<uint64_t> peak_bytes_per_rank() const;
  // The whole tensor of a param or optimizer state by name, gathered from the shards.
  // Collective when it is sharded. Throws spmd::Error for an unknown name.
  std::vector<float> value(const std::string& name);

 private:
  std::unique_ptr<DataSource> make_data() const;
  StepReport run_step();
  std::string nonfinite_after(const StepReport& r) const;
  // The first param (and state, where asked) that is not finite, on the lowest rank that
  // has one; every rank gets the same answer. One all_finite pass over them, a search only
  // where one is spoiled, and one all-gather of the world.
  struct Spoiled {
    int rank;
    ir::ValueId value;
  };
  std::optional<Spoiled> first_spoiled(bool states) const;
  bool apply_profile(const std::string& path, int devices);  // whether it gave the kernel figures
  void check_checkpoint_policy() const;
  void calibrate_device(bool profiled);
  std::string measure_turns(bool users_figures);
  bool own_cores() const;
  void calibrate_links();
  std::optional<Manifest> prepare_resume();
  void check_checkpoint_directory(int64_t first_step) const;
  void check_ranks_agree(bool plan_chosen) const;
  void agree_with_rank_0(std::span<const uint64_t> mine, std::span<const char* const> what) const;
  void check_same_data(const DataSource& data) const;
  void finish_resume(const Manifest& m);
  void start_trace();
  // The simulator's step of this rank's program on `topology` (predicted_timeline), its
  // time into `step_time_s` where given.
  std::vector<PredictedLaunch> predicted_step(const launcher::Topology* topology,
                                              const partitioner::DeviceOverrides& device,
                                              double* step_time_s = nullptr) const;
  bool timed_step(int64_t step) const;
  void check_replan_policy(int devices) const;
  void set_prediction();
  // The finite check's pass as a step makes it, timed at bind: finite_check_seconds().
  double time_finite_check() const;
  // The agreement after it, timed at bind: agreement_seconds().
  double time_agreement() const;
  // The median of 5 timed runs of `run` after one untimed (profile_text.h), the slowest
  // rank's (slowest_rank.h: one all-gather of a word, `what` naming it). Collective.
  double slowest_median_of_5(const std::function<void()>& run, const std::string& what) const;
  // The buffers the finite check scans: the rank's params, and its optimizer states where
  // `states`; their values into `held` where given. O(nodes).
  std::vector<kernels::TensorRef> checked_buffers(bool states, std::vector<ir::ValueId>* held) const;
  // `seconds` of the rank's compute timed within a turn, at its share of its PUs.
  double at_share(double seconds) const;
  void sample(const StepReport& r, const std::vector<LaunchTime>& launches, bool timed);
  void end_of_window(StepReport& r);
  ReplanReport replan(double measured_s);
  partitioner::Refitted refit_to_window(ReplanReport& report);
  partitioner::Refitted refit_by_launch(const launcher::Topology& base, const partitioner::DeviceModel& device);
  partitioner::Refitted refit_as_a_whole(const launcher::Topology& base, const partitioner::DeviceModel& device,
                                         double measured_s, double predicted_s);
  void switch_plan(partitioner::Plan next, const partitioner::Refitted& model);
  // `plan` lowered for this job's ranks, its gradients bucketed (the size given, or chosen
  // on `topology`, into bucket_bytes_).
  partitioner::Program lowered(const partitioner::Plan& plan, const launcher::Topology* topology);

  JobDescription description_;
  ir::Graph graph_;
  const launcher::World* world_ = nullptr;
  std::unique_ptr<collectives::Communicator> comm_;
  std::unique_ptr<launcher::Topology> topology_;  // stable address: the trainer keeps it
  std::optional<partitioner::Plan> plan_;
  std::optional<partitioner::Program> program_;
  bool partitioned_ = false;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<Trainer> trainer_;
  std::optional<Resumed> resumed_;
  std::vector<std::string> profile_notes_;
  std::string device_note_;
  std::string fingerprint_;  // of the hardware as discovered, for checkpoints
  std::string last_checkpoint_;
  std::vector<PredictedLaunch> predicted_;  // the cost model's step of this rank's program
  double predicted_step_time_s_ = 0;
  double feed_s_ = 0;  // feeding a step's batch, the slowest rank's (bind)
  double finite_check_s_ = 0;  // finite_check_seconds()
  double agreement_s_ = 0;  // agreement_seconds()
  double bucket_bytes_ = 0;
  bool gathers_params_ = false;
  ScheduleSource bucket_source_ = ScheduleSource::cost_model, prefetch_source_ = ScheduleSource::cost_model;
  int prefetch_ = 1;
  bool overlap_ = true;
  ScheduleSource overlap_source_ = ScheduleSource::cost_model;
  std::chrono::steady_clock::time_point origin_;  // of the launches' times
  std::unique_ptr<TraceRecorder> trace_;
  // Re-planning: the model as bound (topology and device figures; launches are sampled
  // against it, so that each refit starts from it rather than from the last refit), the
  // running plan's samples, its steps so far, the refitted cost model (its topology for
  // costing only: the executor's is topology_), the switch awaiting its realized gain, and
  // every report.
  std::optional<launcher::Topology> base_topology_;
  partitioner::DeviceOverrides base_device_;
  std::optional<PlanSamples> samples_;
  int64_t plan_steps_ = 0;
  bool replanned_ = false;
  std::optional<partitioner::Refitted> refit_;
  std::optional<ReplanReport> switched_;
  std::vector<ReplanReport> replans_;
  std::string plan_source_;  // set when a switch replaced the plan asked for
};

// "asked", "the plan's", "the cost model's choice".
const char* to_string(Job::ScheduleSource s);

}  // namespace spmd::runtime
