// What it costs a kernel to write over memory another process on its node has just read
// (partitioner::DeviceModel::peer_rewrite_Bps). A collective between processes of one node
// hands large messages over by a single copy: the peer's core reads the sender's buffer
// (Open MPI's shared-memory transport over CMA or XPMEM), so its cache keeps copies of those
// lines, and the sender's next write to each must first invalidate the peer's copy, a
// coherence miss per line (Sorin, Hill and Wood, "A Primer on Memory Consistency and Cache
// Coherence", 2011, ch. 6). ZeRO's optimizer rewrites in place the parameter shard its
// all-gather has just sent: on 2 ranks here 32,768 floats took 61 us against 18 us alone.
// How much more depends on the kernel: a streaming add paid about 8 GB/s of extra time
// here, an AdamW update, slower per line, about 3 GB/s.
#pragma once

#include <vector>

#include "collectives/communicator.h"
#include "ir/graph.h"
#include "kernels/backend.h"
#include "launcher/topology.h"

namespace spmd::runtime {

struct PeerRewrite {
  double any_Bps = 0;          // an add's: any kernel without a figure of its own
  std::vector<double> by_op;   // by index in ir::all_ops(): each optimizer update's, 0 where not measured
};

// Bytes per second of the extra time a kernel of `backend` takes to write its 256 KiB
// result over memory peer processes read, as rank 0 and the other ranks on its node
// (launcher::Device::node) measure it: 11 rounds in which rank 0 runs the kernel twice,
// timing the second, sends its result to each peer, as a collective hands a buffer to
// all, and times a third run; the median of the differences. (Ranks oversubscribed on
// fewer cores float between them: one peer may share rank 0's core and its caches, and
// cost nothing; of all of them, as in a collective, some do not.) For an add, and for
// each optimizer update (ir::OpTraits::optimizer_update) that `program` has, every one
// ir::training_step makes without a program. 0 where rank 0 has no peer on its node, the
// backend's memory is a device's, or writing costs no more. The same figures on every
// rank. Collective over `comm`; a few ms.
PeerRewrite measure_peer_rewrite(collectives::Communicator& comm, const launcher::Topology& topology,
                                 kernels::Backend& backend, const ir::Graph* program = nullptr);

}  // namespace spmd::runtime
