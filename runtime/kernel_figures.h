// What bind measures of a rank's kernels for the cost model (Job::calibrate_device), and
// how the ranks agree on it: each figure the slowest rank's, since a step waits for the
// last rank at each collective (here one core ran gpt 4-9% slower than the other, and the
// ranks' mean predicted every 2-rank plan 3-5% faster).
#pragma once

#include <vector>

#include "ir/graph.h"
#include "kernels/backend.h"
#include "launcher/world.h"
#include "partitioner/kernel_rates.h"
#include "runtime/program_ops.h"

namespace spmd::runtime {

struct KernelFigures {
  // measure_kernels_briefly's, where measured (0 and empty otherwise): a kernel's fixed
  // cost, matmul's best FLOP/s, and its curves of FLOP/s by FLOP and bytes/s by bytes.
  double latency_s = 0, best_flops = 0;
  partitioner::RateCurve flops_by_size, bytes_by_size;
  ProgramOpRates rates;                 // measure_program_ops'
  std::vector<double> gemms_within_s;   // measure_gemms_after_writes'
  std::vector<double> fixed_s;          // measure_op_fixed_costs', by op index
  int threads = 0;                      // the kernel threads they ran on
};

// Every figure above measured on this rank for program `g` (the brief kernels only where
// `basics`), `latency_s` the fixed cost the user gave (0: none). A few tenths of a second.
KernelFigures measure_kernel_figures(kernels::Backend& backend, const ir::Graph& g, double latency_s, bool basics);

// Each figure of `mine` replaced by the slowest rank's (slowest_of_ranks: the greatest time,
// the least rate), ranks that did not measure (`mine` empty: sized as `g` sizes them) left
// out. Collective over `world`: one all_gather of a word per figure.
KernelFigures slowest_kernel_figures(const launcher::World& world, const ir::Graph& g, const KernelFigures& mine);

}  // namespace spmd::runtime
