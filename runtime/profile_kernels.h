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

// The FLOP/s (as partitioner::op_flops counts them) of each op of program `g` that is not a
// GEMM, by its index in ir::all_ops() (0 for ops `g` lacks, and those whose largest instance
// is under 16 Ki FLOP: all fixed cost), beyond the op's own fixed cost (the time of its
// instance moving fewest bytes, where those are at most kFixedCostBytes; else a kernel's
// fixed cost `latency_s`, an add of one element's): the op's
// instance of most FLOP within 16 MiB, on made-up operands, the median of 7 runs, on
// operands beyond the last-level cache where they outgrow a core's, as a step finds its
// params and its activations of MiB. The registry says how many points an op visits, not
// what each costs: a gelu's tanh tens of FLOP, an add's one. About 8 runs of each op of `g`
// (tens of ms for a small model, and 64 MiB of copies filled once where an op outgrows a
// core's cache: about 0.1 s for the default gpt), and at most about `budget_s` in all,
// filling the copies aside (their page faults took 20-300 ms with two ranks filling at once,
// and had left all ops but the first unmeasured): the ops left when that has passed keep the
// roofline (0). `in_cache` holds the same on operands
// in a core's cache where the instance outgrows it (timed again, each run right after
// another kernel wrote its computed operands, as a step's kernel before does),
// 0 for the others: their one rate is in the cache already.
// `gemms_beyond_cache` holds the seconds of each of gemms_beyond_cache(g) on operands from
// beyond the caches, timed so once for each problem (its op and shapes), 0 where not timed:
// within about `budget_s` again (about 0.15 s for the default gpt's 10 problems).
struct ProgramOpRates {
  std::vector<double> beyond_cache, in_cache;
  std::vector<double> gemms_beyond_cache;
};
// Bind waits for it on every rank, within the job's deadline (2 s in some tests), hence a
// quarter of a second by default.
ProgramOpRates measure_program_ops(kernels::Backend& backend, const ir::Graph& g, double latency_s,
                                   double budget_s = 0.25);

// The bytes of operands and result an op stays within to stay in a server core's L2: beyond,
// its measurements read copies from beyond the last-level cache.
constexpr uint64_t kPrivateCacheBytes = uint64_t{1} << 20;
// The copies, taken in turn, that those measurements read: what a step touched since, for
// each (partitioner::DeviceModel::beyond_cache_reach_bytes).
constexpr uint64_t kColdBytes = uint64_t{64} << 20;

// The fixed cost of each op of program `g` that is not a GEMM, by its index in
// ir::all_ops(): the seconds of its instance moving fewest bytes, where those are at most
// kFixedCostBytes (0 for the others, ops `g` lacks, and on a device with memory of its
// own), less its work at the op's rate in `rates` (measure_program_ops; at least a quarter
// of its time is kept), each timed as a step finds it (other data written over a core's
// cache since it last ran, another kernel just before), the median of 7 rounds. Kernels
// differ by 10x in it: in a step of 2-rank mlp an oneDNN mul of 3 floats took 1.6-2.4 us,
// a loop's AdamW update of 120 bytes 0.1-0.3 us, where an add of one element timed again
// and again said 1.4 us for each. About 10 ms for a small model.
constexpr double kFixedCostBytes = 16384;
std::vector<double> measure_op_fixed_costs(kernels::Backend& backend, const ir::Graph& g, const ProgramOpRates& rates);

// The program's GEMMs within a core's cache (under kPrivateCacheBytes of operands and
// result), in program order: those whose time in a step measure_gemms_after_writes takes.
std::vector<ir::ValueId> gemms_within_cache(const ir::Graph& g);

// The program's other GEMMs (kPrivateCacheBytes or more of operands and result), in
// program order: those measure_program_ops times on operands from beyond the caches.
std::vector<ir::ValueId> gemms_beyond_cache(const ir::Graph& g);

// The seconds each of gemms_within_cache(g) takes as a step finds it: right after kernels
// wrote as many bytes of other data as the step touched since its operands or its result's
// buffer (reuse_distance.h; at most twice kPrivateCacheBytes), then its computed operands;
// 0 for those past `budget_s` and on a device with memory of its own. On one thread, 2-rank
// mlp's GEMMs took 97 us of its step where the profile's rates said 79 us: timed so they
// came to 1.14-1.18x those rates, timed alone (all in the nearest caches) 1.07x. And where
// a rank runs several threads, they split an elementwise op's points and a GEMM's blocks
// differently, so each reads lines the other wrote: mlp's [64,256]x[256,256] took 37 us
// after a relu, 22 us alone (its step: 29-32 us). About 3 brief timings of each (a few ms
// in all).
std::vector<double> measure_gemms_after_writes(kernels::Backend& backend, const ir::Graph& g, double budget_s = 0.05);

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
