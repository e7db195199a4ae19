// The kernel half of `spmd profile` (profile_run.h): what a kernel costs on this rank's
// backend, each figure sustained as a training step sees it.
//  - The fixed cost of a kernel: an add of one element.
//  - Memory bandwidth by size: an add on 16 KiB, 1 MiB, 16 MiB and 64 MiB per operand, in
//    the caches and beyond them.
//  - Matmul by shape: every [m,k] x [k,n] with m, n and k from 16 to 1024 (x4 steps), the
//    FLOP/s the cost model reads per GEMM shape (partitioner/kernel_rates.h).
// Matmul rates are of the work beyond the fixed cost, on operands beyond the last-level
// cache (copies filling 64 MiB, taken in turn), as a step reads its weights. About 5 s.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "kernels/backend.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// Fills `p`'s op_latency_s, memory_Bps, memory_by_size, matmul_flops, matmul_by_size (the
// grid's m = n = k points) and matmul_by_shape, and appends their tables to `table`. The
// ranks that `measure` time at once, each problem started together (`together`, which
// every rank calls alike): ranks on cores of their own then load the machine as training
// does, and no rank times a kernel while another is between problems. A rank that does not
// measure (one sharing its PUs with a rank that does) leaves the grid's rates 0, to be
// filled with the measuring rank's.
// The fixed cost and the adds are timed again, up to kTimingAttempts times in all, while
// doubtful_adds finds them at odds on a measuring rank (`any_rank`, which every rank calls
// alike with its own finding, says whether one did; none: this rank's); then the matmul
// grid likewise, while doubtful_matmuls finds it at odds. The table says so, and warns
// where the last attempt still disagreed (its figures kept: a machine may really run so).
constexpr int kTimingAttempts = 3;
void measure_kernels(kernels::Backend& backend, partitioner::Profile& p, std::string& table,
                     const std::function<void()>& together, bool measure = true,
                     const std::function<bool(bool)>& any_rank = {});

// What is wrong with a rank's timed adds, `seconds_by_bytes` ((bytes moved, seconds) by
// increasing size) after a kernel's fixed cost of `latency_s`, or "" where nothing is: an
// add of fewer bytes taking more than kMostBelowMemory times the fixed cost and its bytes
// at the largest add's bytes/s (data in a cache moves at least as fast as data from
// memory). A kernel whose threads wait for a PU that does not run them (another process on
// it; a host that holds a virtual CPU back) pays milliseconds at each call: a profile
// timed an add of 16 KiB at 5.5 ms where it takes 4 us, and every plan costed by it was
// predicted at 50x its time. O(sizes).
constexpr double kMostBelowMemory = 10;
std::string doubtful_adds(double latency_s, const std::vector<std::pair<double, double>>& seconds_by_bytes);

// What is wrong with a rank's matmul grid (`grid`, its rates by shape), or "" where nothing
// is: a shape at least as large as another in m, n and k (as much work a call, as much to
// split among threads) running over kMostBelowSmaller times slower. On steady machines the
// worst such pair here ran 3-10x slower (k of 16 and n of 1024: its result written out
// beyond the caches); while a kernel's second thread waited for a PU another process held,
// 1300-3700x. O(shapes^2).
constexpr double kMostBelowSmaller = 50;
std::string doubtful_matmuls(const std::vector<partitioner::GemmPoint>& grid);

// The same figures in about 50 ms, for a job bound without a profile (Job::bind): the fixed
// cost of a kernel, matmul FLOP/s at m = n = k of 32, 128 and 512, and an add's bytes/s on
// 16 KiB, 1 MiB and 16 MiB per operand (in the caches and beyond), each the median of 7
// rounds over all seven kernels in turn, so that a burst of interference slows one round
// rather than one kernel's every run (a rank sharing its core may then find it to itself:
// measure on one rank while the others wait). Fills op_latency_s, matmul_flops,
// matmul_by_size and `bytes_by_size`. Holds the kernels' operands at once (about 115 MiB).
// Timed again, up to kTimingAttempts times in all, while doubtful_adds finds the adds at odds.
void measure_kernels_briefly(kernels::Backend& backend, partitioner::Profile& p,
                             partitioner::RateCurve& bytes_by_size);

// The bytes of operands and result an op stays within to stay in a server core's L2: beyond,
// its measurements read copies from beyond the last-level cache.
constexpr uint64_t kPrivateCacheBytes = uint64_t{1} << 20;
// The copies, taken in turn, that those measurements read: what a step touched since, for
// each (partitioner::DeviceModel::beyond_cache_reach_bytes).
constexpr uint64_t kColdBytes = uint64_t{64} << 20;

// The bytes of the cache of the core this process runs on (its L2, as the C library reads
// it from the CPU), 0 where it does not say. O(1).
std::int64_t private_cache_bytes();

// `bytes` of backend memory at `dst` set to `value` (a float's bits: 0 for an i32 0), from a
// small host chunk copied in turn: a host vector as large as the buffer faulted its pages
// in anew for each (44 ms for 16 MiB on a VM). O(bytes).
void fill_backend_memory(kernels::Backend& backend, void* dst, uint64_t bytes, float value);

// A matmul of two n x n matrices of halves on `backend`, its buffers held for the kernel
// loops the profile times (profile_sync.h, profile_sharing.h). run(): once, waited for.
class SquareMatmul {
 public:
  SquareMatmul(kernels::Backend& backend, int64_t n);
  void run();

 private:
  kernels::Backend& backend_;
  ir::TensorType type_;
  kernels::BackendBuffer a_, b_, c_;
};

}  // namespace spmd::runtime
