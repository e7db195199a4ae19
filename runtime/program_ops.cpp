// A program's own kernels timed at bind (program_ops.h): each op's rate and fixed cost, and
// its GEMMs as a step finds them.
#include "runtime/program_ops.h"

#include <algorithm>
#include <functional>
#include <span>
#include <vector>

#include "common/error.h"
#include "common/stats.h"
#include "ir/graph.h"
#include "ir/ops.h"
#include "partitioner/cost_model.h"
#include "partitioner/memory_plan.h"
#include "partitioner/reuse_distance.h"
#include "runtime/kernel_timing.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {

using profile_text::Clock;
using profile_text::seconds_since;

namespace {

// Of each op of `g` that is not a GEMM and runs a kernel, the instance `keep` admits that
// `better` prefers over each other one; -1 for ops without one. O(nodes).
template <class Keep, class Better>
std::vector<ir::ValueId> instance_of_each_op(const ir::Graph& g, Keep keep, Better better) {
  std::vector<ir::ValueId> chosen(ir::all_ops().size(), -1);
  for (ir::ValueId v = 0; v < static_cast<ir::ValueId>(g.size()); ++v) {
    const ir::Node& n = g.node(v);
    if (n.is_source() || !ir::op_traits(n.op).needs_kernel() || partitioner::gemm_shape(g, v) || !keep(v)) continue;
    ir::ValueId& best = chosen[ir::op_index(n.op)];
    if (best < 0 || better(v, best)) best = v;
  }
  return chosen;
}

// The types of node `n`'s operands in `g`, as a kernel run on made-up operands takes them.
std::vector<ir::TensorType> operand_types(const ir::Graph& g, const ir::Node& n) {
  std::vector<ir::TensorType> types;
  for (ir::ValueId x : n.inputs) types.push_back(g.type(x));
  return types;
}

// Of each op, the instance of most FLOP whose operands and result fit kOpMostBytes: its
// rate then holds for the smaller shards of it a plan makes (an elementwise op's time is
// linear in its points), and for larger ones the cost model's memory term, by the bytes
// they move, takes over where data no longer fits the caches. GEMMs are left to the matmul
// rates, which depend on the shape, and ops of fewer than kOpLeastFlops to the roofline:
// their time is the kernel's fixed cost, and the little beyond it is noise that would give
// a rate for larger shapes 100x off.
std::vector<ir::ValueId> largest_instance_of_each_op(const ir::Graph& g) {
  constexpr double kOpMostBytes = 16.0 * (1 << 20), kOpLeastFlops = 1 << 14;
  std::vector<ir::ValueId> chosen = instance_of_each_op(
      g, [&](ir::ValueId v) { return partitioner::op_bytes(g, v) <= kOpMostBytes && partitioner::op_flops(g, v) > 0; },
      [&](ir::ValueId v, ir::ValueId best) { return partitioner::op_flops(g, v) > partitioner::op_flops(g, best); });
  for (ir::ValueId& v : chosen) {
    if (v >= 0 && partitioner::op_flops(g, v) < kOpLeastFlops) v = -1;
  }
  return chosen;
}

// Of each op but the GEMMs (whose rates hold their fixed cost as the matmul grid measured
// it), its instance moving fewest bytes, where those are at most kFixedCostBytes.
std::vector<ir::ValueId> smallest_instance_of_each_op(const ir::Graph& g) {
  return instance_of_each_op(
      g, [&](ir::ValueId v) { return partitioner::op_bytes(g, v) <= kFixedCostBytes; },
      [&](ir::ValueId v, ir::ValueId best) { return partitioner::op_bytes(g, v) < partitioner::op_bytes(g, best); });
}

// Seconds of one of `runs`, briefly: where a run takes a millisecond or more (a large
// GEMM: the clock's jitter and a kernel's fixed cost are nothing beside it), the median of 3
// after an untimed one, else time_in_rounds. The 9 runs of time_in_rounds made timing gpt's
// GEMMs at bind take 0.2 s.
double time_long_kernel(KernelRuns& runs) {
  constexpr double kLongRunS = 1e-3;
  runs();
  std::vector<double> seconds;
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    runs();
    seconds.push_back(seconds_since(start));
    if (seconds.back() < kLongRunS) return time_in_rounds({[&runs] { runs(); }}).front();
  }
  return median(seconds);
}

// The seconds of each of gemms_beyond_cache(g) on cold operands, each problem (its op, its
// attributes and the types of its operands and result) timed once (time_long_kernel), until
// `budget_s` has passed; 0 for those left, and those whose kernel refuses made-up operands.
std::vector<double> time_gemms_cold(kernels::Backend& backend, const ir::Graph& g, double budget_s, ColdMemory& cold) {
  const std::vector<ir::ValueId> gemms = gemms_beyond_cache(g);
  std::vector<double> seconds(gemms.size(), 0.0);
  std::vector<std::vector<ir::TensorType>> types;  // each one's operands', built once
  for (ir::ValueId v : gemms) types.push_back(operand_types(g, g.node(v)));
  const auto same_problem = [&](size_t a, size_t b) {
    const ir::Node &x = g.node(gemms[a]), &y = g.node(gemms[b]);
    return x.op == y.op && x.attrs == y.attrs && x.type == y.type && types[a] == types[b];
  };
  const auto start = Clock::now();
  const double filled_before = cold.fill_seconds();
  for (size_t i = 0; i < gemms.size(); ++i) {
    size_t before = 0;
    while (before < i && !same_problem(before, i)) ++before;
    if (before < i) {
      seconds[i] = seconds[before];
      continue;
    }
    if (seconds_since(start) - (cold.fill_seconds() - filled_before) > budget_s) continue;
    try {
      KernelRuns runs(backend, g.node(gemms[i]), types[i], Operands::cold, &cold);
      seconds[i] = time_long_kernel(runs);
    } catch (const Error&) {
    }
  }
  return seconds;
}

// The fixed cost of each op of `chosen` (by op index, -1: none) that has an instance among
// `smallest` (smallest_instance_of_each_op): that instance's time on hot operands, its work
// nothing beside it; `latency_s` (an add of one element's) for the others. Kernels differ
// by 50x in it: the rate of mlp's moments beyond the add's 5.3 us on two threads read 9.3
// us of work in a 14.6 us update of 256x256 whose own loop costs 0.1-0.4 us, and predicted
// its AdamW and moments at 0.65-0.8 of a step's time (one thread, whose add costs less:
// 0.95-1.05). O(ops) brief timings of small kernels.
std::vector<double> own_fixed_costs(kernels::Backend& backend, const ir::Graph& g,
                                    const std::vector<ir::ValueId>& chosen, double latency_s) {
  const std::vector<ir::ValueId> smallest = smallest_instance_of_each_op(g);
  std::vector<double> fixed(chosen.size(), latency_s);
  for (size_t op = 0; op < chosen.size() && op < smallest.size(); ++op) {
    if (chosen[op] < 0 || smallest[op] < 0) continue;
    const ir::Node& n = g.node(smallest[op]);
    try {
      fixed[op] = time_kernel(backend, n, operand_types(g, n), Operands::hot, kBrief);
    } catch (const Error&) {
    }
  }
  return fixed;
}

// A relu over each of `written` from the same place in `sources` (`written` itself: in
// place), split among the threads as an elementwise kernel splits it, waited for: what
// the kernel before leaves of an op's operands in a step.
void write_with_relus(kernels::Backend& backend, std::span<const kernels::TensorRef> sources,
                      std::span<const kernels::TensorRef> written) {
  for (size_t i = 0; i < written.size(); ++i) {
    backend.run(ir::Node{"relu", {0}, {}, written[i].type, "write"}, sources.subspan(i, 1), written[i]);
  }
  backend.synchronize();
}

// Seconds of node `n` on `operands` into `out` right after `writes`: the two timed together
// less `writes` alone (time_in_rounds), at least `least` (a fraction) of the two together.
double seconds_after(kernels::Backend& backend, const std::function<void()>& writes, const ir::Node& n,
                     std::span<const kernels::TensorRef> operands, const kernels::TensorRef& out, double least) {
  const std::vector<double> s = time_in_rounds({writes, [&] {
                                                  writes();
                                                  backend.run(n, operands, out);
                                                  backend.synchronize();
                                                }});
  return std::max(s[1] - s[0], least * s[1]);
}

// Seconds of node `v` of `g` as a step finds it where it touched the op's data within a
// core's cache: its computed operands (not params or fed inputs, last written a step ago)
// just written by the kernel before, whose threads split the work otherwise (here a relu
// in place, split as an elementwise kernel splits it), the rest where the op last left
// them. Timed with the writes, less them (time_in_rounds). Timed again and again on one
// copy instead, gpt's attention transposes of 1 MiB ran half as fast in its step (one
// rank, two threads: 25-44 us where the step took 47-93), its bias gradients' reduce_sums
// 0.65-0.75x and its moments 0.75-0.8x. Relus from copies of their own (as
// gemm_after_writes writes) moved twice the bytes through the cache, and a mul by a
// scalar or a causal mask of 2 MiB then ran 1.6-2.6x faster in the step.
// Adds the seconds its buffers took to allocate and fill to `filled_s` (page faults, as
// ColdMemory's, which no op's budget is charged).
double op_after_writes(kernels::Backend& backend, const ir::Graph& g, ir::ValueId v, double& filled_s) {
  const auto filling = Clock::now();
  const ir::Node& n = g.node(v);
  std::vector<kernels::BackendBuffer> buffers;
  std::vector<kernels::TensorRef> operands, written;
  const auto buffer = [&](const ir::TensorType& t, float value) {
    buffers.emplace_back(backend, t.bytes());
    fill_backend_memory(backend, buffers.back().get(), t.bytes(), value);
    return buffers.back().get();
  };
  for (ir::ValueId x : n.inputs) {
    const ir::TensorType& t = g.type(x);
    const bool values = t.dtype == ir::DType::f32;  // indices stay zeros: row 0, class 0
    operands.push_back({t, buffer(t, values ? 0.5f : 0.0f)});
    if (values && !g.node(x).is_source()) written.push_back(operands.back());
  }
  const kernels::TensorRef out{n.type, buffer(n.type, 0.0f)};
  filled_s += seconds_since(filling);
  return seconds_after(backend, [&] { write_with_relus(backend, written, written); }, n, operands, out, 0.1);
}

}  // namespace

ProgramOpRates measure_program_ops(kernels::Backend& backend, const ir::Graph& g, double latency_s, double budget_s) {
  const auto start = Clock::now();
  const std::vector<ir::ValueId> chosen = largest_instance_of_each_op(g);
  ProgramOpRates rates{std::vector<double>(chosen.size(), 0.0), std::vector<double>(chosen.size(), 0.0), {}};
  const std::vector<double> fixed = own_fixed_costs(backend, g, chosen, latency_s);
  ColdMemory cold(backend);
  // The GEMMs twice, before the other ops and after them, the faster of the two kept: the
  // machine runs slow in spells of 0.1-5 s (a 256x1024x256 matmul on two threads timed for
  // 60 s ran over 1.3x its median in 15% of its 100 ms windows, up to 2.6x). With one pass,
  // 3 of 9 binds of 1-rank gpt priced its GEMMs at 1.28-1.38x the profile's rates (the others
  // 1.06-1.14) and its step at 1.19-1.23x its time; with two, 1 of 10 (1.30x; the others
  // 0.88-1.07). A spell of over a quarter of a second can cover both.
  const auto gemms_start = Clock::now();
  const std::vector<double> gemms_first = time_gemms_cold(backend, g, budget_s, cold);
  const double gemms_first_s = seconds_since(gemms_start) - cold.fill_seconds();  // a budget of their own
  double filled_s = 0;  // op_after_writes' buffers
  for (size_t op = 0; op < chosen.size(); ++op) {
    if (chosen[op] < 0 || seconds_since(start) - gemms_first_s - cold.fill_seconds() - filled_s > budget_s) continue;
    const ir::Node& n = g.node(chosen[op]);
    const std::vector<ir::TensorType> types = operand_types(g, n);
    // As a step finds them: timed on hot operands, gpt's elementwise ops, norms and
    // transposes of MiB ran 1.3-2x their rate in a step (one rank, two threads: 16.3 ms of
    // such ops predicted, 21.7 ms measured; cold 12.7 ms and 12.6 ms), where their operands
    // come from beyond the caches (copies of 32 MiB in all, taken in turn, still ran gelu
    // near its hot rate).
    try {
      const double flops = partitioner::op_flops(g, chosen[op]);
      rates.beyond_cache[op] = flops / beyond(time_kernel(backend, n, types, Operands::cold, kBrief, &cold), fixed[op]);
      // The same op where a step touched little since its operands: an optimizer update of
      // a model whose step fits a core's cache (mlp's 1.3 MiB AdamW: 2-4x the rate above),
      // a transpose of what the kernel before just wrote. On several kernel threads, right
      // after another kernel wrote its operands (op_after_writes). On one, that kernel
      // leaves them in this core's cache as the op's own runs do: timed after relus there,
      // 2-rank gpt (a thread a rank) was predicted at 1.02-1.14 of measured, 0.91-1.08 on
      // one copy timed again and again.
      if (partitioner::op_bytes(g, chosen[op]) >= kPrivateCacheBytes) {
        const double s = kernels::cpu_threads() > 1 ? op_after_writes(backend, g, chosen[op], filled_s)
                                                    : time_kernel(backend, n, types, Operands::hot, kBrief, &cold);
        rates.in_cache[op] = flops / beyond(s, fixed[op]);
      }
    } catch (const Error&) {
      // A kernel that refuses these made-up operands keeps the roofline's estimate.
    }
  }
  rates.gemms_beyond_cache = time_gemms_cold(backend, g, budget_s, cold);
  for (size_t i = 0; i < gemms_first.size(); ++i) {
    double& kept = rates.gemms_beyond_cache[i];
    if (gemms_first[i] > 0 && (!(kept > 0) || gemms_first[i] < kept)) kept = gemms_first[i];
  }
  return rates;
}

std::vector<double> measure_op_fixed_costs(kernels::Backend& backend, const ir::Graph& g, const ProgramOpRates& rates) {
  const std::vector<ir::ValueId> chosen = smallest_instance_of_each_op(g);
  std::vector<double> fixed(chosen.size(), 0.0);
  if (backend.device_memory()) return fixed;
  std::vector<KernelRuns> runs;
  std::vector<size_t> ops;
  for (size_t op = 0; op < chosen.size(); ++op) {
    if (chosen[op] < 0) continue;
    const ir::Node& n = g.node(chosen[op]);
    const std::vector<ir::TensorType> types = operand_types(g, n);
    try {
      KernelRuns run(backend, n, types, Operands::hot);
      run();  // a kernel that refuses made-up operands keeps the common fixed cost
      runs.push_back(std::move(run));
      ops.push_back(op);
    } catch (const Error&) {
    }
  }
  // As a step finds each kernel: after other data filled the core's cache since it last
  // ran (its code and the library's state for it then come from beyond), right after
  // another kernel. Timed again and again instead, oneDNN's mul and reduce_mean took
  // 1.2-1.5 us where a step of 2-rank mlp took 1.6-3.4 us; after writes of 1 MiB between,
  // 1.6-1.8 us. The kernel before is an add of one element, untimed: right after the writes
  // by this thread alone, a 2-thread kernel took 5 ms on a busy machine, waking its threads.
  const auto cache = static_cast<uint64_t>(std::max<std::int64_t>(private_cache_bytes(), kPrivateCacheBytes));
  kernels::BackendBuffer other(backend, cache);
  const ir::TensorType one{ir::DType::f32, {1}};
  kernels::BackendBuffer x(backend, one.bytes()), sum(backend, one.bytes());
  fill_backend_memory(backend, x.get(), one.bytes(), 0.5f);
  const kernels::TensorRef twice[] = {{one, x.get()}, {one, x.get()}};
  const ir::Node tiny{"add", {0, 1}, {}, one, "before"};
  std::vector<std::vector<double>> seconds(runs.size());
  for (int round = 0; round < 7; ++round) {
    for (size_t i = 0; i < runs.size(); ++i) {
      fill_backend_memory(backend, other.get(), cache, static_cast<float>(round));
      backend.run(tiny, twice, {one, sum.get()});
      const auto start = Clock::now();
      runs[i]();
      seconds[i].push_back(seconds_since(start));
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const size_t op = ops[i];
    const double rate = op < rates.in_cache.size() && rates.in_cache[op] > 0   ? rates.in_cache[op]
                        : op < rates.beyond_cache.size() ? rates.beyond_cache[op] : 0.0;
    const double s = median(seconds[i]), work = rate > 0 ? partitioner::op_flops(g, chosen[op]) / rate : 0.0;
    fixed[op] = std::max(s - work, 0.25 * s);
  }
  return fixed;
}

namespace {

// The program's GEMMs, in program order, within a core's cache (under kPrivateCacheBytes of
// operands and result) or beyond it.
std::vector<ir::ValueId> program_gemms(const ir::Graph& g, bool within_cache) {
  std::vector<ir::ValueId> out;
  for (ir::ValueId v = 0; v < static_cast<ir::ValueId>(g.size()); ++v) {
    if (g.node(v).is_source() || !partitioner::gemm_shape(g, v)) continue;
    if ((partitioner::op_bytes(g, v) < kPrivateCacheBytes) == within_cache) out.push_back(v);
  }
  return out;
}

}  // namespace

std::vector<ir::ValueId> gemms_within_cache(const ir::Graph& g) { return program_gemms(g, true); }

std::vector<ir::ValueId> gemms_beyond_cache(const ir::Graph& g) { return program_gemms(g, false); }

namespace {

// The most bytes the step touches between its last touch of one of node `v`'s operands, or
// of its result's buffer, and this one (reuse_distance.h), at most twice a core's cache:
// beyond, they come from the next level however far back they were touched.
double traffic_before(const ir::Graph& g, ir::ValueId v, const partitioner::ReuseDistances& reuse) {
  double most = reuse.result(v);
  for (size_t i = 0; i < g.node(v).inputs.size(); ++i) most = std::max(most, reuse.operand(v, i));
  return std::min(most, 2.0 * static_cast<double>(kPrivateCacheBytes));
}

// Seconds of GEMM node `v` of `g` as a step finds it: after relus wrote `traffic` bytes of
// other data (what the step touched since its operands) and then its computed operands
// (those not params or fed inputs) from copies of their own; timed with the writes, less
// them. Timed alone instead, with all in the nearest caches, mlp's [32,256]x[256,256]^T
// took 26 us where its step took 29 us.
double gemm_after_writes(kernels::Backend& backend, const ir::Graph& g, ir::ValueId v, double traffic) {
  const ir::Node& n = g.node(v);
  std::vector<kernels::BackendBuffer> buffers;
  std::vector<kernels::TensorRef> operands, written, sources;
  const auto written_from_copy = [&](const ir::TensorType& t, void* at) {
    written.push_back({t, at});
    buffers.emplace_back(backend, t.bytes());
    fill_backend_memory(backend, buffers.back().get(), t.bytes(), 0.5f);
    sources.push_back({t, buffers.back().get()});
  };
  const int64_t others = static_cast<int64_t>(traffic / 2 / sizeof(float));
  if (others > 0) {
    const ir::TensorType t{ir::DType::f32, {others}};
    buffers.emplace_back(backend, t.bytes());
    fill_backend_memory(backend, buffers.back().get(), t.bytes(), 0.5f);
    written_from_copy(t, buffers.back().get());
  }
  for (ir::ValueId x : n.inputs) {
    const ir::TensorType& t = g.type(x);
    buffers.emplace_back(backend, t.bytes());
    fill_backend_memory(backend, buffers.back().get(), t.bytes(), 0.5f);
    operands.push_back({t, buffers.back().get()});
    if (!g.node(x).is_source()) written_from_copy(t, buffers.back().get());  // a source: last written a step ago
  }
  kernels::BackendBuffer result(backend, n.type.bytes());
  const kernels::TensorRef out{n.type, result.get()};
  return seconds_after(backend, [&] { write_with_relus(backend, sources, written); }, n, operands, out, 0.0);
}

}  // namespace

std::vector<double> measure_gemms_after_writes(kernels::Backend& backend, const ir::Graph& g, double budget_s) {
  const std::vector<ir::ValueId> gemms = gemms_within_cache(g);
  std::vector<double> seconds(gemms.size(), 0.0);
  if (backend.device_memory() || gemms.empty()) return seconds;
  const partitioner::ReuseDistances reuse(g, partitioner::plan_program_memory(g));
  const auto start = Clock::now();
  for (size_t i = 0; i < gemms.size() && seconds_since(start) < budget_s; ++i) {
    try {
      seconds[i] = gemm_after_writes(backend, g, gemms[i], traffic_before(g, gemms[i], reuse));
    } catch (const Error&) {
      // A kernel that refuses made-up operands: that GEMM keeps its rates.
    }
  }
  return seconds;
}

}  // namespace spmd::runtime
