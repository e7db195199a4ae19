// The collective tables of `spmd profile`: every algorithm of every primitive over all
// ranks, MPI's own among them, timed in rounds at each size, printed nccl-tests style and
// fitted (collectives/cost_fit.h). Internal to the runtime.
#pragma once

#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "launcher/topology.h"

namespace spmd::runtime {

// Every algorithm of all-reduce, reduce-scatter, all-gather, broadcast and all-to-all over
// every rank of `comm` at 4 KiB to `max_bytes`, each point the median of 3 rounds (the
// slowest rank's median of 3 to 21 runs), its rows (size, time, algbw, busbw) and its fit
// added to `table`; the fitted bands of each. Every rank gets the same times, so the same
// fits. Collective over `comm`; seconds.
std::vector<launcher::MeasuredAlgorithm> collective_tables(collectives::Communicator& comm, double max_bytes,
                                                           std::string& table);

}  // namespace spmd::runtime
