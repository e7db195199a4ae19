// spmd plan MODEL [--strategy NAME | --tactics FILE | --plan FILE | --auto] [--ranks N]
// [--json FILE] [--explain] [--predict] [--topology ... --nodes N] [--memory-limit SIZE]
// [--budget N]: the plan for the model on N devices, without running it: the mesh, every
// parameter's sharding, the collectives of one step and the planned memory per device; on a
// topology, where the mesh axes land and what each collective is predicted to cost. --auto
// searches for the plan (partitioner/search.h) and prints the runners-up and baselines;
// --predict prints the simulator's step time, exposed communication and peak memory.
// Under mpirun every rank plans (so that a mistake fails on all of them alike) and rank 0
// prints; --auto and --predict then cost the job's discovered topology.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "partitioner/profile.h"
#include "partitioner/lower.h"
#include "partitioner/search.h"
#include "partitioner/tuning.h"
#include "runtime/memory_plan.h"
#include "tools/validators.h"
#include "tools/commands.h"
#include "tools/partition_options.h"
#include "tools/plan_placement.h"
#include "tools/plan_report.h"
#include "tools/plan_search_report.h"
#include "tools/topology_options.h"
#include "tools/program.h"

namespace spmd::tools {
namespace {

struct PlanOptions {
  runtime::ProgramSource program;
  partitioner::PlanRequest partition;
  TopologyOptions topology;  // with --topology: placement and predicted collective times
  int ranks = 0;  // 0: the topology's devices with --topology, else the job's ranks
  std::string json;
  bool explain = false;
  bool predict = false;
  std::string profile;
};

// Every collective must say why it is there: an all-gather of a whole tensor that nobody
// can account for is a planning bug.
void check_explained(const partitioner::Program& program) {
  for (size_t i = 0; i < program.collectives.size(); ++i) {
    const auto& r = program.collectives[i];
    if (r.reason.empty()) {
      throw Error("collective " + std::to_string(i + 1) + " (" + r.steps + " of " + r.value + ") has no recorded reason");
    }
  }
}

// The plan of the options; without --ranks, a mesh of another size than the world's gets a
// hint at --ranks.
partitioner::Plan plan_for(const PlanOptions& o, const ir::Graph& g, int ranks) {
  try {
    return partitioner::choose_plan(o.partition, g, ranks);
  } catch (const Error& e) {
    if (o.ranks > 0 || std::string(e.what()).find("the mesh ") != 0) throw;
    throw Error(std::string(e.what()) + " (--ranks N plans for N devices)");
  }
}

void plan(const PlanOptions& o, const launcher::World& world) {
  std::optional<launcher::Topology> topology;
  // Under mpirun the search and the prediction cost the discovered job (every rank asks).
  bool discovered = (o.partition.automatic || o.predict) && o.ranks == 0 && world.size() > 1;
  if (!o.topology.topology.empty() || discovered) topology = topology_from(o.topology, world);
  const int ranks = o.ranks > 0 ? o.ranks : topology ? topology->num_devices() : world.size();
  ir::Graph g = load_program(o.program);
  launcher::Topology costed_on = topology ? *topology : partitioner::flat_topology(ranks);
  std::vector<std::string> profile_notes;
  PlanOptions with_profile = o;
  if (!o.profile.empty()) {
    partitioner::Profiled p = partitioner::apply_profile(partitioner::read_profile(o.profile), o.profile, costed_on,
                                                         o.partition.search.device);
    costed_on = std::move(p.topology);
    with_profile.partition.search.device = p.device;
    profile_notes = std::move(p.said);
  }
  std::optional<partitioner::SearchResult> search;
  if (o.partition.automatic) search = partitioner::search_plan(g, costed_on, with_profile.partition.search);
  partitioner::Plan plan = search ? search->best().plan : plan_for(o, g, ranks);
  const partitioner::DeviceModel device = partitioner::device_model(costed_on, with_profile.partition.search.device);
  const std::int64_t limit = partitioner::memory_limit(o.partition.search.memory_limit, device);
  partitioner::Program program = partitioner::lower_ops(g, plan);
  std::optional<partitioner::TunedProgram> tuned;
  partitioner::Prediction predicted;
  if (search || o.predict) {  // costed as a job runs it: its gathers' depth and buckets chosen
    partitioner::CollectiveCosts costs(plan.mesh, costed_on);
    tuned = partitioner::tune_schedule(program, plan.rematerialize, device, costs, limit,
                                       partitioner::with_plan_schedule({}, plan));
    program = std::move(tuned->program);
    predicted = tuned->prediction;
    plan.schedule = tuned->schedule;
    partitioner::record_prediction(plan, predicted, costed_on);
  } else {
    program = partitioner::finish_lowering(program, plan.rematerialize);
  }
  runtime::ProgramMemory memory = runtime::plan_program_memory(program.graph, device.moved_buffers_apart);  // as a job plans it
  if (o.explain) check_explained(program);
  // Placed on every rank before anything is written or printed: a mesh the topology cannot
  // hold fails the command whole, leaving no plan file behind.
  const std::string placement = topology ? placement_report(*topology, plan, program) : "";
  if (!o.json.empty()) world.on_lead([&] { partitioner::write_plan(o.json, plan, g); }, "writing the plan");
  if (!world.lead()) return;
  PlanReport what{o.program.describe(), o.partition.describe(ranks), o.explain};
  std::fputs(plan_report(what, g, plan, program, memory).c_str(), stdout);
  std::fputs(placement.c_str(), stdout);
  if (search) std::fputs(search_report(*search).c_str(), stdout);
  for (const std::string& note : profile_notes) std::printf("profile: %s\n", note.c_str());
  if (o.predict) std::fputs(prediction_report(predicted, device, limit, tuned->schedule, tuned->gathers_params).c_str(), stdout);
  if (!o.json.empty()) std::printf("\nplan written to %s (spmd run %s --plan %s)\n", o.json.c_str(),
                                   o.program.model.c_str(), o.json.c_str());
  std::fflush(stdout);
}

}  // namespace

void add_plan_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<PlanOptions>();
  auto* cmd = app.add_subcommand("plan", "Show how a model is partitioned, without running it");
  add_program_options(*cmd, o->program);
  add_partition_options(*cmd, o->partition);
  cmd->add_option("--ranks", o->ranks, "number of devices (default: the topology's, else the job's ranks)")
      ->check(kRankCount);
  add_topology_options(*cmd, o->topology);
  cmd->add_option("--json", o->json, "write the plan to this file, for spmd run --plan");
  cmd->add_flag("--explain", o->explain, "say why each collective is there");
  cmd->add_flag("--predict", o->predict, "predict the step time, exposed communication and peak memory per device");
  add_search_options(*cmd, o->partition.search);
  cmd->add_option("--profile", o->profile, "a profile from spmd profile: measured figures for the cost model");
  cmd->callback([o, world] { plan(*o, *world); });
}

}  // namespace spmd::tools
