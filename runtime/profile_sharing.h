// What ranks that share PUs lose to taking turns on them (partitioner::DeviceOverrides::
// sharing_efficiency): the cost model gives each of k ranks on p PUs p/k of a rank's rate
// alone, but ranks that line up at every collective switch in and out of the PUs and
// refill their caches at each turn. 4 ranks on 2 cores ran a matmul loop, lined up every
// 17 ms, at 2.3-2.8x its time alone rather than 2x, and gpt's 4-rank steps were predicted
// at 0.62-0.87 of measured from the share alone.
#pragma once

#include <functional>

#include "kernels/backend.h"
#include "launcher/world.h"

namespace spmd::runtime {

// The share of the PUs `share` (partitioner::cpu_share) over the time a kernel takes with
// every rank running it in lockstep, per unit of its time alone: 1 where turns cost
// nothing, less where they do, at most 1. Rank 0 times a loop of 256^3 matmuls alone while
// the others wait, then every rank runs the same loop, calling `line_up` (a collective over
// every rank) every 100 matmuls; the same figure on every rank (rank 0's). Collective over
// `world`; about 0.15 s on 4 ranks sharing 2 cores.
double measure_sharing_efficiency(const launcher::World& world, kernels::Backend& backend, double share,
                                  const std::function<void()>& line_up);

}  // namespace spmd::runtime
