// What a collective waits for the slowest rank (partitioner::DeviceModel::sync_wait_s and
// sync_wait_fraction), the part of `spmd profile` (profile_run.h) that system noise makes:
// ranks' kernels take unequal times from one stretch to the next, and each collective
// waits for the last rank to arrive (Hoefler, Schneider and Lumsdaine 2010).
#pragma once

#include <string>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "launcher/topology.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// Every rank runs matmuls for a stretch, then all-reduces one float, round after round: the
// time per round beyond its own kernels and the median all-reduce of ranks already lined up
// (as the profile's tables time collectives), less what the slowest rank's median stretch
// over the rank's own makes (a rank slower all along is the machine's state, which the
// profile's kernel rates hold, not noise), is the wait. Per round the ranks' mean (the
// slowest rank waits least, the fastest most: their mean is what each collective adds to a
// step), then the median over rounds. Stretches of one 64^3 matmul and of about 1 ms (five
// runs of them, the median run kept) fit wait = a + w x stretch. A fit beyond the stretch
// itself (one rank at a third of the other's speed: a stall, not noise) is said in `table`
// and not kept. Collective over `comm`; about 0.6 s. Nothing on one rank, nor
// where ranks share cores (`topology`'s devices of one node with one cpuset): they then take
// turns on the cores, which the kernels' sustained rates already hold, and the rounds would
// count those turns again (4 ranks on 2 cores measured 120%).
void measure_sync_wait(collectives::Communicator& comm, const launcher::Topology& topology,
                       kernels::Backend& backend, partitioner::Profile& p, std::string& table);

}  // namespace spmd::runtime
