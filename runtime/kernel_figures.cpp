#include "runtime/kernel_figures.h"

#include <algorithm>

#include "ir/ops.h"
#include "runtime/profile_kernels.h"
#include "runtime/slowest_rank.h"

namespace spmd::runtime {
namespace {

constexpr size_t kBriefPoints = 3;  // of each curve measure_kernels_briefly fills

// The figures in the order the ranks exchange them, each marked a time or a rate; every
// list at the length `g` gives it, so that a rank that measured nothing sends zeros.
struct Packed {
  std::vector<double> values;
  std::vector<bool> is_time;

  void add(double v, bool time) {
    values.push_back(v);
    is_time.push_back(time);
  }
  void add(const std::vector<double>& vs, size_t n, bool time) {
    for (size_t i = 0; i < n; ++i) add(i < vs.size() ? vs[i] : 0.0, time);
  }
  void add(const partitioner::RateCurve& curve) {  // (size, rate) pairs: sizes are alike on every rank
    for (size_t i = 0; i < kBriefPoints; ++i) {
      add(i < curve.size() ? curve[i].first : 0.0, false);
      add(i < curve.size() ? curve[i].second : 0.0, false);
    }
  }
};

// Reads them back in the order they were packed.
struct Unpacking {
  const std::vector<double>& values;
  size_t at = 0;

  double next() { return values[at++]; }
  std::vector<double> next(size_t n) {
    std::vector<double> out(values.begin() + static_cast<std::ptrdiff_t>(at),
                            values.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return out;
  }
  partitioner::RateCurve curve() {
    partitioner::RateCurve out;
    for (size_t i = 0; i < kBriefPoints; ++i) {
      const double size = next(), rate = next();
      if (size > 0 && rate > 0) out.emplace_back(size, rate);
    }
    return out;
  }
};

Packed pack(const ir::Graph& g, const KernelFigures& f) {
  const size_t ops = ir::all_ops().size();
  Packed p;
  p.add(f.latency_s, true);
  p.add(f.best_flops, false);
  p.add(f.flops_by_size);
  p.add(f.bytes_by_size);
  p.add(f.rates.beyond_cache, ops, false);
  p.add(f.rates.in_cache, ops, false);
  p.add(f.rates.gemms_beyond_cache, gemms_beyond_cache(g).size(), true);
  p.add(f.gemms_within_s, gemms_within_cache(g).size(), true);
  p.add(f.fixed_s, ops, true);
  p.add(f.threads, false);
  return p;
}

KernelFigures unpack(const ir::Graph& g, const std::vector<double>& values) {
  const size_t ops = ir::all_ops().size();
  Unpacking u{values};
  KernelFigures f;
  f.latency_s = u.next();
  f.best_flops = u.next();
  f.flops_by_size = u.curve();
  f.bytes_by_size = u.curve();
  f.rates.beyond_cache = u.next(ops);
  f.rates.in_cache = u.next(ops);
  f.rates.gemms_beyond_cache = u.next(gemms_beyond_cache(g).size());
  f.gemms_within_s = u.next(gemms_within_cache(g).size());
  f.fixed_s = u.next(ops);
  f.threads = static_cast<int>(u.next());
  return f;
}

}  // namespace

KernelFigures measure_kernel_figures(kernels::Backend& backend, const ir::Graph& g, double latency_s, bool basics) {
  KernelFigures f;
  partitioner::Profile p;
  p.op_latency_s = latency_s;
  if (basics) {
    measure_kernels_briefly(backend, p, f.bytes_by_size);
    f.latency_s = p.op_latency_s;
    f.best_flops = p.matmul_flops;
    f.flops_by_size = p.matmul_by_size;
  }
  f.rates = measure_program_ops(backend, g, p.op_latency_s);
  f.gemms_within_s = measure_gemms_after_writes(backend, g);
  f.fixed_s = measure_op_fixed_costs(backend, g, f.rates);
  f.threads = kernels::cpu_threads();
  return f;
}

KernelFigures slowest_kernel_figures(const launcher::World& world, const ir::Graph& g, const KernelFigures& mine) {
  const Packed packed = pack(g, mine);
  const std::vector<double> slowest = slowest_of_ranks(
      world, packed.values, [&](size_t i) { return packed.is_time[i]; }, "the ranks' kernel figures");
  return unpack(g, slowest);
}

}  // namespace spmd::runtime
