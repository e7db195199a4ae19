// How much longer collectives take in a step than lined up in a loop, the part of `spmd
// profile` (profile_run.h) behind partitioner::DeviceModel::collective_cold_s. The
// profile's tables time each collective again and again on the same buffers, so the
// transport's buffers and the peers' lines stay in the cores' caches; in a step the kernels
// since the last collective wrote over them. On 2 ranks here, after 8 MiB of other writes
// (4x a core's L2), a ring all-reduce of 32 KiB took 19 us against 9 us lined up, of
// 256 KiB 44 us against 28, of 1 MiB 130 against 102; of 4 MiB and more, whose buffers
// outgrow the caches anyway, no longer. mlp's 256 KiB gradient all-reduce took 45-50 us
// a step, where the tables predicted 31.6.
#pragma once

#include <string>

#include "collectives/communicator.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// For each size of 4 KiB, 32 KiB, 256 KiB, 1 MiB, 4 MiB and 16 MiB up to `max_bytes`: the
// ring all-reduce, all-gather and reduce-scatter, each timed lined up, and with every rank
// writing partitioner::kCollectiveColdCaches x its core's cache of other data after
// preparing its buffer (a step's gradients and params were written before the kernels
// since), the runs interleaved. Sets
// `p.collective_cold_s` to (bytes, the median over the primitives of the cold median less
// the lined-up one, at least 0), the slowest rank's times on every rank, and its line in
// `table`. Collective over `comm` (2 ranks or more); about 0.5 s on 2 ranks, 2 s on 4 over
// 2 cores.
void measure_collectives_cold(collectives::Communicator& comm, double max_bytes, partitioner::Profile& p,
                              std::string& table);

}  // namespace spmd::runtime
