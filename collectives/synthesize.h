// Schedule synthesis: for a collective over a set of devices of a Topology, enumerate the
// candidate schedules (flat over every level the devices span, and for all-reduce every
// nesting of reduce-scatter / all-reduce / all-gather over contiguous runs of those levels,
// with each algorithm), cost each with the levels' link models (or, for an algorithm a
// profile measured on a level, with its own fitted figures there), and rank them. The
// backend's own collective (Algorithm::native, MPI's or NCCL's) is a flat candidate where a
// profile measured it: the choice of ours or the backend's is then made per size, on this
// hardware's times, and recorded in the schedule ("flat native"). Ours replaces the
// backend's only when predicted faster by more than kNativeMargin, or than the spread of the
// profile's runs of the two where that is more: closer than that, the profile cannot tell
// the two apart, and the backend's own is kept.
#pragma once

#include <span>
#include <vector>

#include "collectives/schedule.h"
#include "launcher/topology.h"

namespace spmd::collectives {

struct CollectiveRequest {
  Primitive primitive = Primitive::all_reduce;
  std::vector<int> devices;  // topology device ids, one per rank of the group, in rank order
  double bytes = 0;          // the full buffer (all-reduce vector, all-gather output)
};

// How much faster than the backend's own collective ours must be predicted to be chosen
// over it (where a profile measured the backend's).
inline constexpr double kNativeMargin = 0.10;

// The most that margin may be: ours predicted at half the backend's time or less is chosen
// whatever the spreads. A margin of 1 or more would keep the backend's own at any speed: a
// profile round slowed by a burst gave our ring a spread of 177% at 16 MiB, and MPI's
// reduce-scatter was chosen there at 90 ms against our 1.5 ms.
inline constexpr double kMostNativeMargin = 0.5;

// How much faster than the backend's own (`native`, its measured band) ours (`ours`, the
// band of each of its steps; none where unmeasured) must be predicted to replace it:
// kNativeMargin, or the spread of the difference of the two where more (their spreads
// in quadrature: a profile's runs of them spread by 3-6% on 2 ranks of 2 cores here, by
// 7-10% on 4), at most kMostNativeMargin.
double native_margin(std::span<const launcher::MeasuredAlgorithm* const> ours, const launcher::MeasuredAlgorithm& native);

// Every candidate, cheapest first, except that the backend's own comes first when no other
// is predicted faster than it by more than native_margin. Cost: O(2^levels x algorithms), a few dozen candidates
// on real machines. Throws spmd::Error for an empty group or a device the topology lacks.
std::vector<Schedule> synthesize(const launcher::Topology& topology, const CollectiveRequest& request);

// The cheapest candidate.
Schedule best_schedule(const launcher::Topology& topology, const CollectiveRequest& request);

// What packing a buffer lying in pieces costs an algorithm that packs them (primitives.h's
// packs_pieces): the rank's block and the whole buffer each copied once more (packed in,
// unpacked out, or the reverse), at a CPU core's rate of adding buffers (cost.h's
// LinkCost::reduce_Bps), which such copies run at. O(1).
double packing_seconds(double bytes, int ranks);

// The cheapest candidate for a buffer of `request.bytes` lying in pieces: best_schedule,
// unless that is the backend's own (which packs them) and a flat candidate of ours that
// does not pack is predicted no slower than it with its packing_seconds added. On 2 ranks
// here MPI's all-gather of 4 MiB ran 297 us lined up against our ring's 305, and a ZeRO
// step's gather of 3.5 MiB of params in pieces took 2.3 ms packed for it, 1.0 ms over the
// pieces with the ring. Cost: synthesize's.
Schedule best_schedule_over_pieces(const launcher::Topology& topology, const CollectiveRequest& request);

}  // namespace spmd::collectives
