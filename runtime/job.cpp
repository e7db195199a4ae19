#include "runtime/job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include "collectives/mpi/mpi_communicator.h"
#include "collectives/primitives.h"
#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "ir/ops.h"
#include "ir/text.h"
#include "launcher/mpi_wait.h"
#include "launcher/tcp.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/profile.h"
#include "partitioner/search.h"
#include "partitioner/tuning.h"
#include "runtime/checkpoint.h"
#include "runtime/device_choice.h"
#include "runtime/exposed_comm.h"
#include "runtime/profile_text.h"
#include "runtime/slowest_rank.h"
#include "runtime/text_gather.h"
#include "runtime/threads.h"
#include "runtime/trace.h"

namespace spmd::runtime {
namespace {

// Rank 0's origin, on the ranks of its host: one steady clock (CLOCK_MONOTONIC) runs for
// every process of a host, so their timelines line up exactly, where leaving an all-reduce
// put ranks taking turns on shared cores a turn apart (mlp on 4 ranks over 2 cores: 75 us,
// which made a rank's kernels seem to run beside its partner's). `mine` elsewhere, and
// where rank 0's is over a second away (another machine of the same name). Collective.
std::chrono::steady_clock::time_point shared_origin(const launcher::World& world,
                                                    std::chrono::steady_clock::time_point mine) {
  using Clock = std::chrono::steady_clock;
  const uint64_t values[] = {std::hash<std::string>{}(launcher::host_name()),
                             static_cast<uint64_t>(mine.time_since_epoch().count())};
  const std::vector<uint64_t> all = world.all_gather(values, "the trace's origin");
  const Clock::time_point lead{Clock::duration(static_cast<Clock::rep>(all[1]))};
  const bool same_host = all[0] == values[0];
  return same_host && std::chrono::abs(lead - mine) < std::chrono::seconds(1) ? lead : mine;
}

// The global batch rows of the program's data inputs (the first dimension of the first
// input with one), for a callback's throughput.
int64_t global_batch(const ir::Graph& g) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    const ir::Node& n = g.node(v);
    ir::Shape shape = n.attrs.has("global") ? n.attrs.ints("global") : n.type.shape;
    if (!shape.empty()) return shape[0];
  }
  return 1;
}

// The params and state, which a step rewrites: copied before a step that may be undone.
std::vector<std::vector<float>> copy_updated(const Executor& ex) {
  std::vector<std::vector<float>> copies;
  for (ir::ValueId v = 0; v < ex.graph().size(); ++v) {
    if (ir::op_traits(ex.graph().node(v).op).source != ir::Source::initialized) continue;
    kernels::TensorRef t = ex.host_value(v);
    copies.emplace_back(t.f32(), t.f32() + t.numel());
  }
  return copies;
}

void restore_updated(Executor& ex, const std::vector<std::vector<float>>& copies) {
  size_t i = 0;
  for (ir::ValueId v = 0; v < ex.graph().size(); ++v) {
    if (ir::op_traits(ex.graph().node(v).op).source != ir::Source::initialized) continue;
    std::copy(copies[i].begin(), copies[i].end(), ex.host_value(v).f32());
    ex.commit_host_value(v);
    ++i;
  }
}

}  // namespace

Job::Job(JobDescription description)
    : description_(std::move(description)), graph_(load_training_step(description_.program)) {}

Job::~Job() = default;
Job::Job(Job&&) noexcept = default;
Job& Job::operator=(Job&&) noexcept = default;

void Job::bind(JobBinding binding) {
  if (bound()) throw Error("the job is bound already");
  check_checkpoint_policy();
  world_ = binding.world;
  const int devices = world_ ? world_->size() : 1;
  partitioned_ = devices > 1 || description_.partitioning.any();
  if (binding.timeout_s && !launcher::valid_timeout(*binding.timeout_s)) {
    throw Error("the collective timeout " + std::to_string(*binding.timeout_s) + " s is not " + launcher::timeout_range_text() + " s");
  }
  // The world's own agreements (resume checks, checkpoints) wait as long as collectives.
  if (world_ && binding.timeout_s) world_->set_timeout(launcher::Seconds(*binding.timeout_s));
  check_ranks_agree(/*plan_chosen=*/false);
  if (binding.topology) {
    topology_ = std::make_unique<launcher::Topology>(std::move(*binding.topology));
  } else if (devices > 1) {
    topology_ = std::make_unique<launcher::Topology>(launcher::discover_job(
        world_->comm(), std::nullopt, launcher::TopologySource{}.network, world_->timeout()));
  }
  if (topology_) fingerprint_ = launcher::fingerprint(*topology_);
  if (binding.threads > 0) {
    kernels::set_cpu_threads(binding.threads);
  } else if (topology_) {
    share_cores(*topology_, rank());
  }
  // A rank with cores of its own polls while it waits for its peers, as Open MPI's blocking
  // calls do where the node is not oversubscribed: asleep, it wakes late (launcher/mpi_wait.h).
  launcher::set_idle_wait(own_cores() ? launcher::IdleWait::poll : launcher::IdleWait::back_off);
  backend_ = make_rank_backend(binding.device, topology_.get(), rank());
  // Whether a profile gave the device's kernel figures (not where its ranks ran other threads).
  const bool profiled_kernels = !binding.profile.empty() && apply_profile(binding.profile, devices);
  if (world_) comm_ = std::make_unique<collectives::MpiCommunicator>(world_->comm());
  // Before the executor splits it: the split communicators inherit the deadline.
  if (comm_ && binding.timeout_s) comm_->set_timeout(std::chrono::duration<double>(*binding.timeout_s));
  if (binding.calibrate) calibrate_device(profiled_kernels);
  if (binding.calibrate && binding.profile.empty()) calibrate_links();
  check_replan_policy(devices);
  const partitioner::PlanRequest& asked = description_.partitioning;
  if (devices > 1 && (asked.automatic || !asked.any()) && asked.search.budget_seconds > 0) {
    // Every rank searches: a clock could stop them at different plans.
    throw Error("a search budget in seconds would let the ranks stop at different plans: give the search a number "
                "of simulations on several ranks");
  }
  plan_ = partitioner::choose_plan(asked, graph_, devices, topology_.get());
  check_ranks_agree(/*plan_chosen=*/true);
  if (partitioned_) program_ = lowered(*plan_, topology_.get());
  std::optional<Manifest> saved = prepare_resume();
  check_checkpoint_directory(saved ? saved->step : 0);
  const ir::Graph& runs = program_ ? program_->graph : graph_;
  std::unique_ptr<DataSource> data = make_data();
  check_same_data(*data);
  trainer_ = std::make_unique<Trainer>(runs, *backend_, description_.seed, description_.program.lr,
                                       partitioned_ ? comm_.get() : nullptr, topology_.get(), std::move(data));
  trainer_->executor().set_overlap(overlap_);
  float feed = static_cast<float>(trainer_->feed_seconds());
  if (comm_ && ranks() > 1) comm_->native_all_reduce({&feed, 1}, collectives::ReduceOp::max);
  feed_s_ = feed;
  finite_check_s_ = time_finite_check();
  agreement_s_ = time_agreement();
  // Compute in the step's first and last stretches, where its turns and waits are charged.
  description_.partitioning.search.device.step_lead_in_s = at_share(feed_s_);
  description_.partitioning.search.device.step_lead_out_s = at_share(finite_check_s_);
  if (saved) finish_resume(*saved);
  if (topology_) base_topology_ = *topology_;
  base_device_ = description_.partitioning.search.device;
  set_prediction();
  origin_ = std::chrono::steady_clock::now();
  if (!description_.trace.empty()) start_trace();
}

// Timing a launch costs two clock reads on the host, but a synchronisation after each
// kernel on a device: there only one step in kTimedEvery is timed, unless traced.
bool Job::timed_step(int64_t step) const {
  constexpr int64_t kTimedEvery = 10;
  return trace_ || !backend_->device_memory() || step % kTimedEvery == 0;
}

void Job::check_checkpoint_policy() const {
  const CheckpointPolicy& p = description_.checkpoint;
  if (p.every < 0) throw Error("the checkpoint interval " + std::to_string(p.every) + " is negative");
  if (p.every > 0 && p.dir.empty()) throw Error("checkpoints every " + std::to_string(p.every) + " steps need a directory");
  if (p.keep < 1) throw Error("keeping " + std::to_string(p.keep) + " checkpoints: at least 1 must be kept");
}

// Rank 0 checks the whole checkpoint (its manifest against this program, every file's
// checksum) so that a bad one fails on every rank with the same message, before anything
// is read or written; then every other rank reads the manifest. The job adopts the saved seed:
// the data of the steps to come depends on it.
std::optional<Manifest> Job::prepare_resume() {
  if (description_.resume.empty()) return std::nullopt;
  std::optional<Located> at;
  std::optional<Manifest> m;
  auto check = [&] {
    at = locate_checkpoint(description_.resume);
    m = read_manifest(at->path);
    check_checkpoint_fits(at->path, *m, graph_);
    check_same_model(at->path, *m, graph_);
    verify_checkpoint(at->path, *m);
  };
  if (world_) {
    world_->on_lead(check, "checking the checkpoint to resume from");
  } else {
    check();
  }
  if (!m) {  // the other ranks, once rank 0 found the checkpoint good
    at = locate_checkpoint(description_.resume);
    m = read_manifest(at->path);
  }
  resumed_ = Resumed{at->path, m->step, at->skipped};
  description_.seed = m->seed;
  return m;
}

// Keeping the last N checkpoints goes by step: a directory that holds a checkpoint ahead of
// this run's first step is another run's, and the checkpoints this one writes would be the
// oldest, deleted as soon as written. One of another model is another run's too, and would
// be deleted once this run's outnumber it. Refused before the first step, on every rank.
void Job::check_checkpoint_directory(int64_t first_step) const {
  const CheckpointPolicy& p = description_.checkpoint;
  if (p.dir.empty()) return;
  auto check = [&] {
    // Made now, and tried with a file of its own: a directory that cannot be written fails
    // before the first step rather than at the first save.
    std::error_code ec;
    std::filesystem::create_directories(p.dir, ec);
    if (!std::filesystem::is_directory(p.dir)) {
      throw Error("checkpoint directory '" + p.dir + "' cannot be made: " + (ec ? ec.message() : "a file is in the way"));
    }
    try_writing((std::filesystem::path(p.dir) / ".written-by-spmd").string(), "checkpoint directory's file");
    const std::optional<int64_t> newest = newest_checkpoint_step(p.dir);
    if (newest && *newest > first_step) {
      throw Error("checkpoint directory '" + p.dir + "' holds a checkpoint of step " + std::to_string(*newest) +
                  ", ahead of this run's step " + std::to_string(first_step) +
                  ": it is another run's (resume it with --resume " + p.dir + ", or give an empty directory)");
    }
    for (const std::string& path : complete_checkpoints(p.dir)) {
      std::optional<Manifest> m;
      try {
        m = read_manifest(path);
      } catch (const Error&) {  // a damaged one says nothing of its model; resuming names it
        continue;
      }
      if (m->model_fnv64 == 0 || m->model_fnv64 == model_checksum(graph_)) continue;
      throw Error("checkpoint directory '" + p.dir + "' holds '" + std::filesystem::path(path).filename().string() +
                  "' of another model (" + m->model + "): it is another run's, which this run's checkpoints " +
                  "would replace (give an empty directory)");
    }
  };
  world_ ? world_->on_lead(check, "checking the checkpoint directory") : check();
}

// Every rank runs rank 0's job: an MPMD launch (mpirun -np 1 spmd run A : -np 1 spmd run B)
// that gives one rank other flags would train another step there, its collectives waiting
// out the deadline or finishing with another model's numbers. Checked before the first
// collective that depends on them (the kernels' calibration times the program's own), and
// the plan again once chosen. One all-gather of 4 figures each time.
void Job::check_ranks_agree(bool plan_chosen) const {
  if (!world_ || world_->size() < 2) return;
  const int devices = world_->size();
  const std::string plan = plan_chosen ? partitioner::to_json(*plan_, graph_).dump()
                                       : description_.partitioning.describe(devices);
  const double lr = description_.program.lr.value_or(graph_.meta.f("lr", 1e-3));
  uint64_t lr_bits = 0;
  std::memcpy(&lr_bits, &lr, sizeof lr);
  // The checksum is of the forward pass: the optimizer is said apart.
  const std::string program = std::to_string(model_checksum(graph_)) + " " + graph_.meta.s("optimizer", "");
  const uint64_t mine[] = {fnv64(program.data(), program.size()), fnv64(plan.data(), plan.size()), description_.seed,
                           lr_bits};
  const char* what[] = {"training step (model, optimizer)", plan_chosen ? "plan" : "partitioning", "seed",
                        "learning rate"};
  agree_with_rank_0(mine, what);
}

// Throws naming the first rank and figure where a rank's `mine` differs from rank 0's. One
// all-gather of the figures.
void Job::agree_with_rank_0(std::span<const uint64_t> mine, std::span<const char* const> what) const {
  const std::vector<uint64_t> all = world_->all_gather(mine, "what each rank was asked to run");
  const size_t n = mine.size();
  for (size_t r = 1; r < all.size() / n; ++r) {
    for (size_t k = 0; k < n; ++k) {
      if (all[r * n + k] == all[k]) continue;
      throw Error("rank " + std::to_string(r) + " was asked to run another job than rank 0: its " + what[k] +
                  " differs (every rank of a job takes the same program and flags)");
    }
  }
}

// Every rank draws its rows from rank 0's data: a --data file that differs between hosts (a
// stale copy on one) would train on other tokens there, with no error. Before any step.
void Job::check_same_data(const DataSource& data) const {
  if (!world_ || world_->size() < 2) return;
  const uint64_t mine[] = {data.fingerprint()};
  const char* what[] = {"data (the corpus's checksum)"};
  agree_with_rank_0(mine, what);
}

void Job::finish_resume(const Manifest& m) {
  load_checkpoint(resumed_->path, m, trainer_->executor(), rank());
  trainer_->resume_at(m.step);
  // A checkpoint's checksums vouch for its bytes, not for its numbers: a NaN saved is
  // refused here, on every rank, rather than taken for a gradient's at the first step.
  if (std::optional<Spoiled> bad = first_spoiled(/*states=*/true)) {
    const ir::Node& n = trainer_->executor().graph().node(bad->value);
    throw Error("checkpoint '" + resumed_->path + "' holds " + n.op + " '" + n.name + "' with a NaN or infinite value");
  }
}

std::vector<kernels::TensorRef> Job::checked_buffers(bool states, std::vector<ir::ValueId>* held) const {
  const Executor& ex = trainer().executor();
  std::vector<kernels::TensorRef> buffers;
  for (ir::ValueId v = 0; v < ex.graph().size(); ++v) {
    const std::string& op = ex.graph().node(v).op;
    if (op != "param" && !(states && op == "state")) continue;
    if (held) held->push_back(v);
    buffers.push_back(ex.value(v));
  }
  return buffers;
}

std::optional<Job::Spoiled> Job::first_spoiled(bool states) const {
  std::vector<ir::ValueId> held;
  const std::vector<kernels::TensorRef> buffers = checked_buffers(states, &held);
  uint64_t mine = 0;  // 1 + the ValueId of this rank's first spoiled value
  if (!backend_->all_finite(buffers)) {
    for (size_t k = 0; k < held.size() && mine == 0; ++k) {
      if (!backend_->all_finite({&buffers[k], 1})) mine = held[k] + 1;
    }
  }
  const std::vector<uint64_t> all = world_ ? world_->all_gather(mine) : std::vector<uint64_t>{mine};
  for (size_t rank = 0; rank < all.size(); ++rank) {
    if (all[rank] != 0) return Spoiled{static_cast<int>(rank), static_cast<ir::ValueId>(all[rank] - 1)};
  }
  return std::nullopt;
}

std::string Job::save(const std::string& dir, int keep) {
  if (keep < 1) throw Error("keeping " + std::to_string(keep) + " checkpoints: at least 1 must be kept");
  CheckpointInfo info{graph_.meta.s("model", description_.program.describe()), description_.program.describe(),
                      graph_.meta.s("optimizer", ""), trainer().steps_done(), description_.seed,
                      fingerprint_, model_checksum(graph_), {}};
  if (!graph_.meta.has("model")) info.model_ir = ir::print(forward_pass(graph_));
  last_checkpoint_ = save_checkpoint(dir, keep, trainer().executor(), rank(), world_, info);
  return last_checkpoint_;
}

// The trace's times count from a point the ranks take together: each takes it as it
// leaves a one-float all-reduce, so that their timelines line up to within its latency,
// and the ranks on rank 0's host then take rank 0's (shared_origin). The file is tried now,
// so that a missing directory fails before training rather than after it.
void Job::start_trace() {
  auto try_file = [&] { try_writing(description_.trace, "trace file"); };
  world_ ? world_->on_lead(try_file, "opening the trace file") : try_file();
  if (world_ && ranks() > 1) {
    float together = 0;
    collectives::all_reduce(*comm_, {&together, 1}, collectives::ReduceOp::sum, collectives::Algorithm::recursive_doubling);
  }
  origin_ = std::chrono::steady_clock::now();
  if (world_ && ranks() > 1) origin_ = shared_origin(*world_, origin_);
  trace_ = std::make_unique<TraceRecorder>(trainer().executor().graph(),
                                           program_ ? program_->collectives : std::vector<partitioner::CollectiveRecord>{},
                                           origin_);
}

// The simulator's step of the program this rank runs, on `topology` (a node of that many
// cores when there is none, as the plan search assumes) and the device of `device`.
partitioner::Program Job::lowered(const partitioner::Plan& plan, const launcher::Topology* topology) {
  std::optional<launcher::Topology> flat;
  const launcher::Topology& on = partitioner::topology_or_flat(topology, plan.mesh.size(), flat);
  partitioner::CollectiveCosts costs(plan.mesh, on);
  const partitioner::DeviceModel device = partitioner::device_model(on, description_.partitioning.search.device);
  const partitioner::Program ops = partitioner::lower_ops(graph_, plan);
  // What the job asks for, else what the plan was costed with (a search's winner, a plan
  // file), else the cost model's choice.
  partitioner::ScheduleChoice asked{description_.prefetch, description_.bucket_bytes,
                                    description_.overlap ? int{*description_.overlap} : -1};
  auto source = [&](bool given) {
    return given ? ScheduleSource::asked : plan.schedule ? ScheduleSource::plan : ScheduleSource::cost_model;
  };
  prefetch_source_ = source(asked.prefetch >= 0);
  overlap_source_ = source(asked.overlap >= 0);
  bucket_source_ = source(asked.bucket_bytes >= 0);
  partitioner::TunedProgram tuned = partitioner::tune_schedule(
      ops, plan.rematerialize, device, costs,
      partitioner::memory_limit(description_.partitioning.search.memory_limit, device),
      partitioner::with_plan_schedule(asked, plan));
  prefetch_ = tuned.schedule.prefetch;
  bucket_bytes_ = tuned.schedule.bucket_bytes;
  overlap_ = tuned.schedule.overlap;
  gathers_params_ = tuned.gathers_params;
  return std::move(tuned.program);
}

std::vector<PredictedLaunch> Job::predicted_step(const launcher::Topology* topology,
                                                 const partitioner::DeviceOverrides& device_figures,
                                                 double* step_time_s) const {
  const partitioner::Mesh& mesh = plan().mesh;
  std::optional<launcher::Topology> flat;
  const launcher::Topology& on = partitioner::topology_or_flat(topology, mesh.size(), flat);
  partitioner::CollectiveCosts costs(mesh, on);
  const partitioner::DeviceModel device = partitioner::device_model(on, device_figures);
  if (program_) return predicted_timeline(*program_, device, costs, trainer_->executor().overlaps_communication(), step_time_s);
  return predicted_timeline(partitioner::Program{graph_, {}}, device, costs, true, step_time_s);
}

void Job::write_trace() {
  if (!trace_) throw Error("the job has no trace file to write");
  const std::string mine = trace_events(trace_->measured(rank())).dump();
  const std::vector<std::string> all = world_ && ranks() > 1 ? gather_text(*comm_, mine) : std::vector<std::string>{mine};
  auto write = [&] {
    std::vector<nlohmann::json> events;
    for (const std::string& text : all) events.push_back(nlohmann::json::parse(text));
    events.push_back(trace_events(trace_->predicted(ranks(), predicted_)));
    write_file_atomically(description_.trace, trace_document(events).dump() + "\n", "trace file");
  };
  world_ ? world_->on_lead(write, "writing the trace file") : write();
}

// The user's callback, else the data the graph's meta asks for; what the graph cannot be fed
// names the model (an IR file's path).
std::unique_ptr<DataSource> Job::make_data() const {
  const ir::Graph& runs = program_ ? program_->graph : graph_;
  if (description_.data) return make_callback_source(description_.data, global_batch(runs), description_.data_item);
  try {
    return make_data_source(runs, description_.seed);
  } catch (const Error& e) {
    throw Error(description_.program.model + ": " + e.what());
  }
}

// A collective that fails (a peer lost or stopped) says which step it was in.
StepReport Job::run_step() {
  try {
    return trainer().step();
  } catch (const JobFailure& e) {
    throw JobFailure("step " + std::to_string(trainer().steps_done()) + ": " + e.what());
  }
}

// The pass alone: where ranks take turns on PUs the agreement after it is not the rank's
// compute, and counted at the share with it, on 4 ranks over 2 cores (the all-gather lined
// up in turns 47-61 us, the pass 10 us), mlp's predicted step held 100 us that no step spent.
double Job::time_finite_check() const {
  const std::vector<kernels::TensorRef> buffers = checked_buffers(/*states=*/false, nullptr);
  return slowest_median_of_5([&] { backend_->all_finite(buffers); }, "the ranks' finite checks timed");
}

// The agreement lined up, as the step's end meets it: every rank arrives there within the
// partners' turns of each other, and then waits for each to get its PU back once more.
double Job::time_agreement() const {
  if (!world_ || ranks() < 2) return 0;
  return slowest_median_of_5([&] { world_->all_gather(uint64_t{0}); }, "the ranks' agreements timed");
}

double Job::slowest_median_of_5(const std::function<void()>& run, const std::string& what) const {
  const double mine = profile_text::median_of_5_runs(run);
  if (!world_ || ranks() < 2) return mine;
  return slowest_of_ranks(*world_, {&mine, 1}, [](size_t) { return true; }, what).front();
}

// What is not finite after a step, agreed by every rank (one small all-gather): the loss, or
// else the first param that a NaN or infinite gradient spoiled (each rank scans its shards:
// one pass over its params, a host copy of them on a GPU). Empty when all is finite.
std::string Job::nonfinite_after(const StepReport& r) const {
  if (!std::isfinite(r.loss)) return std::string("the loss is ") + (std::isnan(r.loss) ? "NaN" : r.loss > 0 ? "+inf" : "-inf");
  const std::optional<Spoiled> bad = first_spoiled(/*states=*/false);
  if (!bad) return "";
  return "param '" + trainer().executor().graph().node(bad->value).name +
         "' is no longer finite (its gradient was NaN or infinite" +
         (ranks() > 1 ? ", on rank " + std::to_string(bad->rank) : "") + ")";
}

StepReport Job::step() {
  const bool skipping = description_.on_nonfinite == OnNonFinite::skip;
  std::vector<std::vector<float>> before = skipping ? copy_updated(trainer().executor()) : std::vector<std::vector<float>>{};
  Executor& ex = trainer().executor();
  const bool timed = timed_step(trainer().steps_done() + 1);
  ex.set_timeline(timed ? std::optional(origin_) : std::nullopt);
  const auto start = std::chrono::steady_clock::now();
  StepReport r = run_step();
  const auto end = std::chrono::steady_clock::now();
  std::vector<LaunchTime> launches = ex.take_timeline();
  r.predicted_step_time_s = predicted_step_time_s_;
  if (timed) r.exposed_comm_s = exposed_comm_seconds(ex.graph(), launches);
  const std::string bad = nonfinite_after(r);
  // The agreement is part of the step: the next one starts after it. Left out, a step of
  // mlp on 4 ranks over 2 cores read 305-368 us where the job ran one every 453-456 us (its
  // ranks wait there for the slowest, partners' turns included), on 2 ranks 3-5% short.
  const auto agreed = std::chrono::steady_clock::now();
  r.step_time_s = std::chrono::duration<double>(agreed - start).count();
  r.items_per_s = static_cast<double>(trainer().data().items_per_step()) / r.step_time_s;
  if (trace_) trace_->add_step(r.step, r.loss, start, end, std::move(launches));  // a traced job does not re-plan
  if (bad.empty()) {
    sample(r, launches, timed);
    end_of_window(r);
    return r;
  }
  if (!skipping) {
    throw JobFailure("step " + std::to_string(r.step) + ": " + bad + ", training stopped" +
                     (last_checkpoint_.empty() ? "" : "; the last checkpoint, '" + last_checkpoint_ + "', is intact"));
  }
  restore_updated(trainer().executor(), before);
  r.skipped = true;
  return r;
}

void Job::train(int64_t steps, const std::function<void(const StepReport&)>& on_step) {
  for (int64_t s = 0; s < steps; ++s) {
    StepReport r = step();
    const CheckpointPolicy& p = description_.checkpoint;
    if (p.every > 0 && r.step % p.every == 0) r.checkpoint = save(p.dir, p.keep);
    if (on_step) on_step(r);
  }
  if (trace_) write_trace();
}

const partitioner::Plan& Job::plan() const {
  if (!plan_) throw Error("the job has no plan before bind()");
  return *plan_;
}

const partitioner::Program& Job::program() const {
  if (!program_) throw Error("the job runs unpartitioned: it has no per-device program");
  return *program_;
}

const char* to_string(Job::ScheduleSource s) {
  switch (s) {
    case Job::ScheduleSource::asked: return "asked";
    case Job::ScheduleSource::plan: return "the plan's";
    case Job::ScheduleSource::cost_model: return "the cost model's choice";
  }
  return "?";
}

std::string Job::plan_source() const {
  return plan_source_.empty() ? description_.partitioning.describe(ranks()) : plan_source_;
}

int Job::rank() const { return world_ ? world_->rank() : 0; }
int Job::ranks() const { return world_ ? world_->size() : 1; }

Trainer& Job::trainer() {
  if (!trainer_) throw Error("the job is not bound: call bind() before running it");
  return *trainer_;
}

const Trainer& Job::trainer() const {
  if (!trainer_) throw Error("the job is not bound: call bind() before running it");
  return *trainer_;
}

std::vector<uint64_t> Job::peak_bytes_per_rank() const {
  uint64_t mine = trainer().executor().peak_bytes();
  return world_ ? world_->all_gather(mine, "the planned peak memory") : std::vector<uint64_t>{mine};
}

std::vector<float> Job::value(const std::string& name) {
  Executor& ex = trainer().executor();
  auto v = ex.graph().find(name);
  if (!v || (ex.graph().node(*v).op != "param" && ex.graph().node(*v).op != "state")) {
    throw Error("the job has no param or state named '" + name + "'");
  }
  return ex.global_value(*v);
}

}  // namespace spmd::runtime
