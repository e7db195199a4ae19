// What `spmd profile` and a job's bind measure of the topology's links: each level's latency
// and bandwidth from ping-pongs between two ranks, and on 3 ranks or more what ring
// all-gathers over every rank show on the outermost level. Internal to the runtime.
#pragma once

#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "launcher/topology.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// For each level of `topology`, rank 0 and the first rank whose lowest common group with it
// is at that level ping-pong messages of 4 KiB to `max_bytes`; latency and bandwidth fitted
// by least squares of the relative error, the rows and the fit added to `table`. Collective
// over `comm`; a few ms per level up to 1 MiB.
std::vector<partitioner::LevelProfile> measure_levels(collectives::Communicator& comm,
                                                      const launcher::Topology& topology, double max_bytes,
                                                      std::string& table);

// The name of the outermost level a collective over every device of `topology` spans
// (where the job's collectives run), or "" where they span none. O(devices).
std::string outermost_level(const launcher::Topology& topology);

// The outermost level of `levels` worsened to what ring all-gathers over every rank show,
// where that is worse than the ping-pong's figures (3 ranks or more; ranks that share cores
// take turns in every round). Collective over `comm`; a few ms.
void links_as_all_ranks_meet_them(collectives::Communicator& comm, const launcher::Topology& topology,
                                  std::vector<partitioner::LevelProfile>& levels);

}  // namespace spmd::runtime
