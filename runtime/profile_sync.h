// What a collective waits for the slowest rank (partitioner::DeviceModel::sync_wait_s and
// sync_wait_fraction), the part of `spmd profile` (profile_run.h) that system noise makes:
// ranks' kernels take unequal times from one stretch to the next, and each collective
// waits for the last rank to arrive (Hoefler, Schneider and Lumsdaine 2010).
#pragma once

#include <string>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// Every rank runs matmuls for a stretch, then all-reduces one float, round after round: the
// time per round beyond its own kernels and the median all-reduce of ranks already lined up
// (as the profile's tables time collectives) is the wait. Per round the ranks' mean (the
// slowest rank waits least, the fastest most: their mean is what each collective adds to a
// step), then the median over rounds. Stretches of one 64^3 matmul and of about 1 ms fit
// wait = a + w x stretch. Collective over `comm`; about 0.3 s. Nothing on one rank.
void measure_sync_wait(collectives::Communicator& comm, kernels::Backend& backend, partitioner::Profile& p,
                       std::string& table);

}  // namespace spmd::runtime
