// What a job times of its own program at bind (Job::calibrate_device, kernel_figures.h): the
// rate and fixed cost of each op that is not a GEMM, and its GEMMs on operands as a step
// finds them, in a core's cache after the kernels before or from beyond the caches. Tens of
// milliseconds to a few tenths of a second for a small model, within a budget.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "kernels/backend.h"
#include "runtime/profile_kernels.h"

namespace spmd::runtime {

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
// in a core's cache where the instance outgrows it (timed again: on several kernel threads
// each run right after another kernel wrote its computed operands, as a step's kernel
// before does, split among the threads otherwise; on one, on one copy again and again),
// 0 for the others: their one rate is in the cache already.
// `gemms_beyond_cache` holds the seconds of each of gemms_beyond_cache(g) on operands from
// beyond the caches, timed so for each problem (its op and shapes) before the other ops and
// again after them, the faster of the two kept (a pass can fall in one of the machine's slow
// spells), 0 where not timed: within about `budget_s` a pass (tens of ms for the default
// gpt's 10 problems).
struct ProgramOpRates {
  std::vector<double> beyond_cache, in_cache;
  std::vector<double> gemms_beyond_cache;
};
// Bind waits for it on every rank, within the job's deadline (2 s in some tests), hence a
// quarter of a second by default.
ProgramOpRates measure_program_ops(kernels::Backend& backend, const ir::Graph& g, double latency_s,
                                   double budget_s = 0.25);

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

}  // namespace spmd::runtime
