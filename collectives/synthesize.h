// Schedule synthesis: for a collective over a set of devices of a Topology, enumerate the
// candidate schedules (flat over every level the devices span, and for all-reduce every
// nesting of reduce-scatter / all-reduce / all-gather over contiguous runs of those levels,
// with each algorithm), cost each with the levels' link models (or, for an algorithm a
// profile measured on a level, with its own fitted figures there), and rank them. The
// backend's own collective (Algorithm::native, MPI's or NCCL's) is a flat candidate where a
// profile measured it: the choice of ours or the backend's is then made per size, on this
// hardware's times, and recorded in the schedule ("flat native"). It is ranked with the
// others by its predicted time, with no margin for it or against it: where the profile's
// runs spread widely neither is the safer choice, and its medians are the best guess of
// both. A margin for MPI's own (ours had to be predicted faster by 10%, or by the two
// spreads in quadrature where more, up to 50%) kept it at 20 sizes in 15 profiled sweeps of
// bench_collectives on 2-4 ranks here where it ran slower than MPI on a program's own
// memory, down to 0.82x (MPI's own runs on the job's node-shared buffers, where on 2 ranks
// it took up to 1.27x its time on private huge pages); the cheapest alone would have
// chosen below that speed at 5, four of them an all-gather of 4 MiB since made faster, the
// fifth 0.96x.
#pragma once

#include <vector>

#include "collectives/schedule.h"
#include "launcher/topology.h"

namespace spmd::collectives {

struct CollectiveRequest {
  Primitive primitive = Primitive::all_reduce;
  std::vector<int> devices;  // topology device ids, one per rank of the group, in rank order
  double bytes = 0;          // the full buffer (all-reduce vector, all-gather output)
};

// Every candidate, cheapest first. Cost: O(2^levels x algorithms), a few dozen candidates
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
