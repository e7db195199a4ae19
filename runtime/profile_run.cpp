#include "runtime/profile_run.h"

#include <string>
#include <vector>

#include "common/error.h"
#include "common/units.h"
#include "ir/ops.h"
#include "collectives/mpi/mpi_communicator.h"
#include "launcher/mpi_wait.h"
#include "partitioner/device_model.h"
#include "runtime/comm_stream.h"
#include "runtime/profile_cold.h"
#include "runtime/profile_collectives.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_links.h"
#include "runtime/profile_rewrite.h"
#include "runtime/profile_sharing.h"
#include "runtime/profile_sync.h"
#include "runtime/profile_turns.h"
#include "runtime/profile_text.h"
#include "runtime/slowest_rank.h"

namespace spmd::runtime {
namespace {

using profile_text::line;

// The round trip of an empty work through a communication stream: what every overlapped
// collective pays on top of its own time (partitioner::DeviceModel::handoff_s).
void measure_handoff(partitioner::Profile& p, std::string& table) {
  CommStream stream;
  p.handoff_s = profile_text::median_of_5_runs([&] {
    for (int i = 0; i < 100; ++i) stream.wait(stream.submit([] {}));
  }) / 100;
  table += line("  hand-off         %9.3f us  (a collective to the communication thread and back)\n",
                p.handoff_s * 1e6);
}

// The kernel rates, measured alone on the PUs, as each rank gets them when all run: the part
// of the PUs partitioner::cpu_share gives the ranks bound to them (1 on cores of their own).
// The fixed cost of a kernel grows as the rates shrink: ranks taking turns on a PU each pay
// theirs on it (4 ranks on 2 cores ran mlp's small kernels at twice the cost alone).
void share_kernel_rates(const launcher::Topology& topology, const kernels::Backend& backend, ProfileRun& run) {
  if (backend.device_memory() || topology.devices().empty()) return;
  const launcher::Device& first = topology.devices().front();
  const double share = partitioner::cpu_share(topology, first, kernels::cpu_threads());
  if (!(share < 1)) return;
  partitioner::Profile& p = run.profile;
  p.matmul_flops *= share;
  p.memory_Bps *= share;
  p.op_latency_s /= share;
  for (auto& point : p.matmul_by_size) point.second *= share;
  for (auto& point : p.memory_by_size) point.second *= share;
  for (partitioner::GemmPoint& g : p.matmul_by_shape) g.flops_per_s *= share;
  run.table += line("  the ranks bound to these PUs share them: each gets %.2f of these rates, and pays %.3f us a kernel\n",
                    share, p.op_latency_s * 1e6);
}

// Writing over what a peer process read (profile_rewrite.h): an add's figure, and each
// optimizer update's by name.
void measure_rewrites(collectives::Communicator& comm, const launcher::Topology& topology, kernels::Backend& backend,
                      ProfileRun& run) {
  const PeerRewrite measured = measure_peer_rewrite(comm, topology, backend);
  run.profile.peer_rewrite_Bps = measured.any_Bps;
  if (measured.any_Bps <= 0) return;
  run.table += "memory a peer process read, rewritten (bytes/s of the extra time)\n" +
               line("  %-12s %8.2f GB/s\n", "add", measured.any_Bps / 1e9);
  for (size_t op = 0; op < measured.by_op.size(); ++op) {
    if (measured.by_op[op] <= 0) continue;
    const std::string name(ir::all_ops()[op].name);
    run.profile.peer_rewrite_by_op[name] = measured.by_op[op];
    run.table += line("  %-12s %8.2f GB/s\n", name.c_str(), measured.by_op[op] / 1e9);
  }
}

// Rounds of the turns curve and of the hand-off in turns whose medians the profile keeps:
// bind's one round of the curve read 83-100% over 37 ms stretches from run to run.
constexpr int kTurnsRounds = 5, kHandoffRounds = 3;

// Where the ranks share PUs: what taking turns on them leaves each of its share
// (profile_sharing.h) and a hand-off to the communication thread then (profile_turns.h),
// for a job of the same share to take in place of bind's brief measure: the curve as the
// loop's data stays in a core's cache and as it fills it. About 2 s on 4 ranks over 2 cores.
void measure_turns(const launcher::World& world, collectives::Communicator& comm, const launcher::Topology& topology,
                   kernels::Backend& backend, ProfileRun& run) {
  const double share = partitioner::cpu_share(topology, topology.devices().front(), kernels::cpu_threads());
  if (!(share < 1)) return;
  partitioner::Profile& p = run.profile;
  p.turns_share = share;
  const SharedPuTurns turns = measure_shared_pu_turns(world, comm, backend, share, kTurnsRounds, kHandoffRounds);
  p.turns_by_stretch = turns.by_stretch;
  p.turns_by_stretch_filled = turns.by_stretch_filled;
  run.table += line("turns on the shared PUs (each rank's share %.2f; the median of %d rounds): the part of the share "
                    "kept by stretch of compute between collectives\n ",
                    share, kTurnsRounds);
  for (const auto& [stretch, kept] : p.turns_by_stretch) run.table += line(" %.0f us %.0f%%;", stretch * 1e6, kept * 100);
  run.table += "\n  their kernels filling a core's cache:";
  for (const auto& [stretch, kept] : p.turns_by_stretch_filled) {
    run.table += line(" %.0f us %.0f%%;", stretch * 1e6, kept * 100);
  }
  if (turns.handoff_s) {
    p.handoff_in_turns_s = *turns.handoff_s;
    run.table += line(" a hand-off to the communication thread then %.1f us", p.handoff_in_turns_s * 1e6);
  }
  run.table += "\n";
}

}  // namespace

void keep_slowest_kernels(const launcher::World& world, partitioner::Profile& p, std::string& table) {
  std::vector<double> figures = {p.matmul_flops, p.memory_Bps, p.op_latency_s};
  for (const auto& point : p.matmul_by_size) figures.push_back(point.second);
  for (const auto& point : p.memory_by_size) figures.push_back(point.second);
  for (const partitioner::GemmPoint& g : p.matmul_by_shape) figures.push_back(g.flops_per_s);
  figures = slowest_of_ranks(world, figures, [](size_t i) { return i == 2; }, "the ranks' kernel figures");
  p.matmul_flops = figures[0];
  p.memory_Bps = figures[1];
  p.op_latency_s = figures[2];
  size_t at = 3;
  for (auto& point : p.matmul_by_size) point.second = figures[at++];
  for (auto& point : p.memory_by_size) point.second = figures[at++];
  for (partitioner::GemmPoint& g : p.matmul_by_shape) g.flops_per_s = figures[at++];
  if (world.size() > 1) {
    table += line("  kept, the slowest measuring rank's: add 1 element %.3f us, matmul %.1f GFLOP/s at best, memory %.1f GB/s\n",
                  p.op_latency_s * 1e6, p.matmul_flops / 1e9, p.memory_Bps / 1e9);
  }
}

// Ranks that share PUs and all time at once take turns on them mid-kernel: 4 ranks on 2
// PUs timed matmuls at 1/8 of their rate alone, where in training each gets half the time
// (a rank waiting in a collective gives its PU to another).
bool measures_kernels(const launcher::Topology& topology, int rank) {
  const std::vector<launcher::Device>& devices = topology.devices();
  if (rank >= static_cast<int>(devices.size())) return true;
  const launcher::Device& mine = devices[static_cast<size_t>(rank)];
  for (int r = 0; r < rank; ++r) {
    const launcher::Device& d = devices[static_cast<size_t>(r)];
    if (d.kind != launcher::DeviceKind::gpu && d.node == mine.node && d.cpuset == mine.cpuset) return false;
  }
  return true;
}

bool ranks_have_pus_of_their_own(const launcher::Topology& topology, int ranks) {
  if (ranks < 2) return false;
  for (int r = 0; r < ranks; ++r) {
    if (!measures_kernels(topology, r)) return false;
  }
  return true;
}

launcher::IdleWait idle_wait_for(const launcher::Topology& topology, int ranks) {
  return ranks_have_pus_of_their_own(topology, ranks) ? launcher::IdleWait::poll : launcher::IdleWait::back_off;
}

BriefLinks measure_links_briefly(collectives::Communicator& comm, const launcher::Topology& topology) {
  BriefLinks out;
  std::string unused;
  partitioner::Profile p;
  measure_handoff(p, unused);
  out.levels = measure_levels(comm, topology, 1 << 20, unused);
  std::vector<float> figures = {static_cast<float>(p.handoff_s * 1e9)};
  for (const partitioner::LevelProfile& l : out.levels) {
    figures.insert(figures.end(), {static_cast<float>(l.latency_s * 1e9), static_cast<float>(l.bandwidth_Bps / 1e9)});
  }
  comm.native_broadcast(figures, 0);
  out.handoff_s = figures[0] / 1e9;
  for (size_t i = 0; i < out.levels.size(); ++i) {
    out.levels[i].latency_s = figures[1 + 2 * i] / 1e9;
    out.levels[i].bandwidth_Bps = figures[2 + 2 * i] * 1e9;
  }
  links_as_all_ranks_meet_them(comm, topology, out.levels);
  return out;
}

ProfileRun measure_profile(const launcher::World& world, collectives::Communicator& comm,
                           const launcher::Topology& topology, kernels::Backend& backend, double max_bytes) {
  if (!(max_bytes >= kProfileLeastMaxBytes && max_bytes <= kProfileMostMaxBytes)) {
    throw Error("the largest message to time, " + bytes_text(max_bytes) + ", is not from " +
                bytes_text(kProfileLeastMaxBytes) + " (two sizes to fit a line through) to " +
                bytes_text(kProfileMostMaxBytes));
  }
  // Waits go as the jobs it is for will wait (Job::bind), so that what it times of them holds.
  const launcher::IdleWait before = launcher::idle_wait();
  launcher::set_idle_wait(idle_wait_for(topology, comm.size()));
  struct Restore {
    launcher::IdleWait how;
    ~Restore() { launcher::set_idle_wait(how); }
  } restore{before};
  ProfileRun run;
  run.profile.fingerprint = launcher::fingerprint(topology);
  run.profile.kernel_threads = kernels::cpu_threads();
  run.profile.mpi_collectives = collectives::native_collective_settings();  // what chose MPI's own collectives timed here
  measure_kernels(
      backend, run.profile, run.table,
      [&comm] {
        float line_up = 0;
        comm.native_all_reduce({&line_up, 1}, collectives::ReduceOp::sum);
      },
      measures_kernels(topology, comm.rank()),
      [&comm](bool mine) {
        float any = mine ? 1 : 0;
        comm.native_all_reduce({&any, 1}, collectives::ReduceOp::max);
        return any > 0;
      });
  keep_slowest_kernels(world, run.profile, run.table);
  measure_handoff(run.profile, run.table);
  measure_sync_wait(comm, topology, backend, run.profile, run.table);
  measure_rewrites(comm, topology, backend, run);
  run.profile.levels = measure_levels(comm, topology, max_bytes, run.table);
  if (comm.size() > 1) {
    // The collectives span the job's outermost level: their fits belong to it.
    const std::string outer = outermost_level(topology);
    std::vector<launcher::MeasuredAlgorithm> fitted = collective_tables(comm, max_bytes, run.table);
    for (partitioner::LevelProfile& l : run.profile.levels) {
      if (!outer.empty() && l.name == outer) l.algorithms = fitted;
    }
    if (partitioner::ranks_take_turns(topology)) {
      measure_native_in_turns(comm, backend, max_bytes, run.profile, run.table);
      if (!backend.device_memory()) measure_turns(world, comm, topology, backend, run);
    }
    if (!backend.device_memory()) measure_collectives_cold(comm, max_bytes, run.profile, run.table);
  }
  // Every rank holds rank 0's hand-off and fits (only rank 0 and each peer timed the
  // levels), the kernels' figures being the slowest rank's on every rank already: one
  // broadcast of the numbers.
  std::vector<float> figures = {static_cast<float>(run.profile.handoff_s * 1e9)};
  for (const partitioner::LevelProfile& l : run.profile.levels) {
    figures.insert(figures.end(), {static_cast<float>(l.latency_s * 1e9), static_cast<float>(l.bandwidth_Bps / 1e9),
                                   static_cast<float>(l.fit_error)});
  }
  comm.native_broadcast(figures, 0);
  run.profile.handoff_s = figures[0] / 1e9;
  size_t at = 1;
  for (partitioner::LevelProfile& l : run.profile.levels) {
    l.latency_s = figures[at++] / 1e9;
    l.bandwidth_Bps = figures[at++] * 1e9;
    l.fit_error = figures[at++];
  }
  share_kernel_rates(topology, backend, run);
  return run;
}

}  // namespace spmd::runtime
