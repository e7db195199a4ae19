#pragma once
// The figures a job keeps of what its ranks measured: each the slowest rank's, since a step
// waits for the last rank at each collective.

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "launcher/world.h"

namespace spmd::runtime {

// Each of `figures` replaced by the slowest of the ranks' (common/stats.h's
// slowest_measured: the greatest where `is_time(i)`, else the least), leaving out ranks
// that hold 0 (did not measure). Every rank passes as many figures. Collective over
// `world`: one all_gather of a word a figure, `what` naming it in a timeout's error.
std::vector<double> slowest_of_ranks(const launcher::World& world, std::span<const double> figures,
                                     const std::function<bool(size_t)>& is_time, const std::string& what);

}  // namespace spmd::runtime
