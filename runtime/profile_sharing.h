// What ranks that share PUs lose to taking turns on them (partitioner::DeviceModel::
// turns_by_stretch): the cost model gives each of k ranks on p PUs p/k of a rank's rate
// alone, but ranks that line up at every collective switch in and out of the PUs, refill
// their caches at each turn, and a rank waiting at a collective yields its PU to whichever
// rank the scheduler picks, which may be waiting too. The shorter the stretch of compute
// between two collectives, the more of it is lost: 4 ranks on 2 cores ran matmuls lined up
// every 17 ms at 2.1x their time alone (94% of their share), every 200 us at 2.2-3.2x,
// every 10 us at 3.1-4.7x; mlp's 4-rank steps, a collective every 50-100 us, were predicted
// at 0.55-0.8 of measured from the 17 ms figure alone.
#pragma once

#include <functional>
#include <optional>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "launcher/world.h"
#include "partitioner/kernel_rates.h"

namespace spmd::runtime {

// The part of the PUs' share `share` (partitioner::cpu_share) that ranks all running the
// same kernels in lockstep keep, by the stretch of compute between line-ups, in seconds at
// the share's rates ((stretch, kept) by increasing stretch, each kept in [1/3, 1]). Rank 0
// times a matmul loop alone while the others wait; then every rank runs the same loop,
// calling `line_up` (a collective over every rank) every few runs: 96^3 matmuls every 1, 8
// and 64 of them, and 256^3 ones every 100, less a line-up's own time lined up back to back
// (the cost model charges each collective its own lined-up time already: with it, 4 ranks
// over 2 cores kept 36-41% over 20 us stretches, mostly the line-ups' 20-30 us, and mlp's
// 4-rank steps were predicted at 1.14-1.40 of measured; 0.92-1.20 without it). The same
// figures on every rank (rank 0's).
// With several `rounds`, each point is the median of the rounds' (one round at bind read
// 83-100% over 37 ms stretches on 4 ranks over 2 cores, from run to run, and moved gpt's
// predicted step by 10%). The shortest stretch runs once together, untimed, before the
// first round: without it, the first of three rounds at bind read 52-71% over 25 us
// stretches where the next two read 77-94%, and bind times one round (74-77% in each of
// four binds, where a profile's median of five read 93%); with it, 83-92%. With `fill_cache`, the runs take copies of the operands in turn,
// filling about a core's cache as a step's kernels do between turns, so that each turn
// refills it (DeviceModel::turns_by_stretch_filled): one copy, two ranks' 768 KiB within a
// 2 MiB cache, kept 95-100% over 1.6 ms stretches where copies kept 88-92%, and 4-rank gpt,
// its collectives ms apart and its ranks' data tens of MiB, was predicted at 0.85-0.88 of
// measured, 0.93-0.97 so. Collective over `world`; about 0.2 s a round on 4 ranks sharing
// 2 cores.
partitioner::RateCurve measure_turns_by_stretch(const launcher::World& world, kernels::Backend& backend, double share,
                                                const std::function<void()>& line_up, int rounds = 1,
                                                bool fill_cache = false);

// What taking turns leaves ranks that share PUs, as bind and `spmd profile` measure it:
// both curves of measure_turns_by_stretch over `curve_rounds`, lined up on one-float
// all-reduces of MPI's own over `comm`, and, where `comm` is callable from another thread,
// a hand-off to the communication thread in turns (profile_turns.h), the median of
// `handoff_rounds` (nullopt where not callable). Collective over `world`; about 0.4 s a
// round on 4 ranks sharing 2 cores.
struct SharedPuTurns {
  partitioner::RateCurve by_stretch, by_stretch_filled;
  std::optional<double> handoff_s;
};
SharedPuTurns measure_shared_pu_turns(const launcher::World& world, collectives::Communicator& comm,
                                      kernels::Backend& backend, double share, int curve_rounds, int handoff_rounds);

}  // namespace spmd::runtime
