// `spmd profile [--out FILE] [--max-bytes SIZE]`: under mpirun, measures this job's kernels
// and every level's links (runtime/profile_run.h), prints the tables and the fits, and
// writes the profile that `spmd plan/run --profile FILE` use.
#include <cstdio>
#include <memory>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "common/files.h"
#include "launcher/topology.h"
#include "runtime/device_choice.h"
#include "runtime/profile_run.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/sizes.h"

namespace spmd::tools {
namespace {

struct ProfileOptions {
  std::string out = "spmd-profile.json";
  double max_bytes = runtime::kProfileDefaultMaxBytes;
  std::string device = "auto";
};

void profile(const ProfileOptions& o, const launcher::World& world) {
  // Where the profile goes is tried before the measuring: a path that cannot be written
  // fails at once rather than after it.
  if (o.out.empty()) throw Error("--out: the profile's path is empty");
  world.on_lead([&] { try_writing(o.out, "profile file"); }, "checking where the profile goes");
  const launcher::Topology topology = launcher::discover_job(world.comm());
  collectives::MpiCommunicator comm(world.comm());
  // The kernels are timed with the threads a job of these ranks runs them with.
  runtime::share_cores(topology, world.rank());
  auto backend = runtime::make_rank_backend(o.device, &topology, world.rank());
  const runtime::ProfileRun run = runtime::measure_profile(world, comm, topology, *backend, o.max_bytes);
  world.on_lead([&] { partitioner::write_profile(o.out, run.profile); });
  if (!world.lead()) return;
  std::fputs(run.table.c_str(), stdout);
  std::printf("profile of topology %s written to %s (spmd run ... --profile %s)\n", run.profile.fingerprint.c_str(),
              o.out.c_str(), o.out.c_str());
  std::fflush(stdout);
}

}  // namespace

void add_profile_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<ProfileOptions>();
  auto* cmd = app.add_subcommand("profile", "Measure the job's kernels and links into a profile for the cost model");
  cmd->add_option("--out", o->out, "where to write the profile (default spmd-profile.json)");
  cmd->add_option_function<std::string>(
      "--max-bytes", [o](const std::string& text) { o->max_bytes = static_cast<double>(parse_size(text, "--max-bytes")); },
      "largest message timed (default 64MiB)");
  cmd->add_option("--device", o->device, "whose kernels to time: cpu, gpu or auto")
      ->check(CLI::IsMember({"cpu", "gpu", "auto"}));
  cmd->callback([o, world] { profile(*o, *world); });
}

}  // namespace spmd::tools
