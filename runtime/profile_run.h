// `spmd profile`: measures the hardware the job runs on into a partitioner::Profile. Every
// rank times its backend's kernels (profile_kernels.h: a kernel's fixed cost, an elementwise
// add by size, matmul by m, n and k); for each level of the topology, rank 0 and the first rank whose lowest common group
// with it is at that level ping-pong messages from 4 KiB to `max_bytes`, and the latency and
// bandwidth are fitted to the times by least squares (t = alpha + bytes / bandwidth). Then
// every algorithm of all-reduce, reduce-scatter, all-gather, broadcast and all-to-all over
// all ranks at the same sizes (the slowest rank's time), the backend's own among them, for
// the tables, with alpha, beta and gamma fitted to each algorithm's times: the outermost
// level's measured algorithms, from which synthesis picks ours or the backend's per size.
// Where the ranks take turns on their PUs, also each primitive's MPI call in a step against
// ours (profile_turns.h) and, on a host backend, what the turns leave each rank of its share
// (profile_sharing.h, the median of several rounds). On a host backend, how much longer
// collectives take once other writes went over the caches (profile_cold.h). Collective over
// the world; a few seconds on a workstation.
#pragma once

#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "launcher/mpi_wait.h"
#include "launcher/topology.h"
#include "launcher/world.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

struct ProfileRun {
  partitioner::Profile profile;  // the same on every rank (the slowest rank's kernel figures)
  std::string table;             // nccl-tests style tables and the fits, for rank 0 to print
};

// The range `max_bytes` may take: two sizes at least, to fit a line through, and at most
// what a rank can hold a few times over without taking the machine's memory.
inline constexpr double kProfileLeastMaxBytes = 16 << 10, kProfileMostMaxBytes = 1 << 30;
// The default: bench_collectives' largest. A profile to 16 MiB extrapolated to 64 MiB and
// predicted 64 MiB collectives on 2 ranks here at 0.57-0.83 of measured (their buffers
// outgrow the last-level cache); to 64 MiB, within 15%. It takes longer: 5 s against 9 s
// on 2 ranks, 8 s against 16 s on 4 ranks over 2 cores (2 s of it timing collectives in turns).
inline constexpr double kProfileDefaultMaxBytes = 64 << 20;

// Measures with `comm` over `world` (the job's ranks, rank i = device i of `topology`).
// Throws spmd::Error, before measuring anything, when `max_bytes` is outside the range above.
ProfileRun measure_profile(const launcher::World& world, collectives::Communicator& comm,
                           const launcher::Topology& topology, kernels::Backend& backend,
                           double max_bytes = kProfileDefaultMaxBytes);

// Whether `rank` times kernels: the first of the ranks bound to its PUs (ranks that share
// PUs and time at once take turns on them mid-kernel). O(ranks).
bool measures_kernels(const launcher::Topology& topology, int rank);

// Whether each of `ranks` ranks (2 or more) has PUs of its own, no two of a node bound to
// the same ones: a rank waiting for its peers then polls (launcher::IdleWait::poll), as a
// job's ranks and the profile's do. O(ranks^2).
bool ranks_have_pus_of_their_own(const launcher::Topology& topology, int ranks);

// How `ranks` ranks on `topology` wait for their peers: polling where each has PUs of its
// own (ranks_have_pus_of_their_own), else backing off. What `spmd profile` and
// bench_collectives time under, as Job::bind runs. O(ranks^2).
launcher::IdleWait idle_wait_for(const launcher::Topology& topology, int ranks);

// Every rank's kernel figures (the matmul and memory rates, their curves and grid, the
// fixed cost of a kernel) replaced by the slowest measuring rank's, each figure apart, as
// common/stats.h's slowest_measured keeps them at bind: a step waits for the last rank at
// each collective, and here one core ran gpt's matmuls 4% slower than the other, which
// rank 0's figures left out (2-rank gpt predicted at 0.91-0.93 of measured, 0.94-0.96 so).
// A rank that did not measure (measures_kernels) holds 0s. Adds the figures kept to
// `table` where there are several ranks. Collective over `world` (slowest_rank.h).
void keep_slowest_kernels(const launcher::World& world, partitioner::Profile& p, std::string& table);

// What a job bound without a profile measures of its links (Job::bind): each level's
// latency and bandwidth from ping-pongs of 4 KiB to 1 MiB (on 3 ranks or more, the
// outermost level's worsened to what ring all-gathers over every rank show), and the
// hand-off to the communication thread, the same on every rank (rank 0's), as
// measure_profile fits them but with no collective tables. Collective over `comm`; a few
// ms per level.
struct BriefLinks {
  std::vector<partitioner::LevelProfile> levels;
  double handoff_s = 0;
};
BriefLinks measure_links_briefly(collectives::Communicator& comm, const launcher::Topology& topology);

}  // namespace spmd::runtime
