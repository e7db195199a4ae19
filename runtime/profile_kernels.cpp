#include "runtime/profile_kernels.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/stats.h"
#include "common/units.h"
#include "ir/graph.h"
#include "ir/ops.h"
#include "partitioner/cost_model.h"
#include "partitioner/memory_plan.h"
#include "partitioner/reuse_distance.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::line;
using profile_text::seconds_since;

// Brief timing: the median of 7 runs after a warm-up, for a measurement of a few
// milliseconds in all that one slow run (a page fault, another thread's time slice) must
// not move. Each run is a batch of calls of about 20 us: a kernel of 1-2 us timed alone is
// mostly its fixed cost and the clock's jitter, and the rate beyond that cost of a 32^3
// matmul, timed so, varied 2x from one bind to the next.
constexpr double kBrief = 0, kBriefRunS = 20e-6;

// Seconds per call of each of `calls`, briefly: 7 rounds over all of them, the median
// round of each kept. Several are taken in turn, each batch after one untimed call (which
// brings its operands back into the caches the others' runs took them from): a burst of
// interference of a few ms then slows one round of every call, where timed one after the
// other it slowed most runs of one (at bind, a 128^3 matmul timed 2.3x its rate once in
// six binds on one of two ranks; its other runs and the other rank's, 18-21 us).
std::vector<double> time_in_rounds(const std::vector<std::function<void()>>& calls) {
  std::vector<int> batch(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i]();
    const auto first = Clock::now();
    calls[i]();
    batch[i] = static_cast<int>(std::clamp(kBriefRunS / std::max(seconds_since(first), 1e-9), 1.0, 64.0));
  }
  std::vector<std::vector<double>> runs(calls.size());
  for (int round = 0; round < 7; ++round) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls.size() > 1) calls[i]();
      const auto start = Clock::now();
      for (int c = 0; c < batch[i]; ++c) calls[i]();
      runs[i].push_back(seconds_since(start) / batch[i]);
    }
  }
  std::vector<double> seconds;
  for (std::vector<double>& r : runs) {
    std::nth_element(r.begin(), r.begin() + 3, r.end());
    seconds.push_back(r[3]);
  }
  return seconds;
}

// Seconds per run of each of `calls` sustained over at least `at_least_s` of wall time (and
// 5 runs), in 5 stretches of a fifth of that each (a run at least), each after an untimed
// run and a call of `before` (where given), taken in rounds over the calls; the slowest
// stretch of each left out. A burst of interference shorter than a round slows one stretch
// of each call, where stretches of one call in a row took it whole: a profile timed gpt's
// [256,256]x[256,1024] at 0.55 of the next profile's rate, and another the k = 64 and 256
// rows of its matmul grid at half of them, its neighbours in the grid alike (gpt's 4-rank
// steps predicted 15-30% slower). The mean of the other four, not their median: a step
// meets the machine's steady noise too (the median had 2-rank mlp and gpt at 0.90-0.95 of
// measured, this 0.93-1.00). Ranks that share a core do not time at once
// (measures_kernels), so no stretch meets the others' turns.
constexpr int kSustainedStretches = 5;
std::vector<double> sustained_in_rounds(const std::vector<std::function<void()>>& calls, double at_least_s,
                                        const std::function<void()>& before = {}) {
  std::vector<std::vector<double>> per_run(calls.size());
  for (int round = 0; round < kSustainedStretches; ++round) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (before) before();
      calls[i]();
      const auto start = Clock::now();
      int runs = 0;
      do {
        calls[i]();
        ++runs;
      } while (seconds_since(start) < at_least_s / kSustainedStretches);
      per_run[i].push_back(seconds_since(start) / runs);
    }
  }
  std::vector<double> seconds;
  for (std::vector<double>& r : per_run) {
    std::sort(r.begin(), r.end());
    seconds.push_back(std::accumulate(r.begin(), r.end() - 1, 0.0) / (kSustainedStretches - 1));
  }
  return seconds;
}

// The same for one `fn`; brief (at_least_s = kBrief): time_in_rounds of `fn` alone.
template <class F>
double sustained(F&& fn, double at_least_s = 0.05) {
  if (at_least_s == kBrief) return time_in_rounds({[&fn] { fn(); }}).front();
  return sustained_in_rounds({[&fn] { fn(); }}, at_least_s).front();
}

// The time of a kernel's work: `s` less the fixed cost, at least a tenth of `s` (where the
// two are within noise of each other, the work still takes some time).
double beyond(double s, double latency_s) { return std::max(s - latency_s, 0.1 * s); }

// Where a kernel's operands are when it runs: `hot`, just computed and still in a core's
// cache (a small block); `cold`, as a step reads its weights (last touched a step ago) and
// activations of MiB (written among tens of MiB of others): beyond the last-level cache
// once they would not stay in a core's own. Timed on hot operands, large matmuls ran
// 15-25% faster than in a step, and so did the predictions.
enum class Operands { hot, cold };

uint64_t line_up(uint64_t bytes) { return (bytes + 63) / 64 * 64; }

// The copies of cold operands (halves) and their results, shared by the kernels one
// measurement times in turn, allocated and filled at the first that asks: each kernel
// filling 64 MiB of its own took about 15 ms, most of the time of timing gpt's ops at bind.
// Results are written once too: a page faults on first touch (a run of adamw on 64 fresh
// copies timed 10x its rate), and a step's buffers are not fresh.
class ColdMemory {
 public:
  explicit ColdMemory(kernels::Backend& backend) : backend_(backend) {}
  char* operands() { return fill().first; }
  char* results() { return fill().second; }
  // How long filling the copies took (0 until they are): page faults of 128 MiB, 20-300 ms
  // on a VM with another rank filling at once, which no op's time budget is charged.
  double fill_seconds() const { return fill_s_; }

 private:
  std::pair<char*, char*> fill() {
    if (!operands_.get()) {
      const auto start = Clock::now();
      operands_ = kernels::BackendBuffer(backend_, kColdBytes);
      results_ = kernels::BackendBuffer(backend_, kColdBytes);
      fill_backend_memory(backend_, operands_.get(), kColdBytes, 0.5f);
      fill_backend_memory(backend_, results_.get(), kColdBytes, 0.0f);
      fill_s_ = seconds_since(start);
    }
    return {static_cast<char*>(operands_.get()), static_cast<char*>(results_.get())};
  }

  kernels::Backend& backend_;
  kernels::BackendBuffer operands_, results_;
  double fill_s_ = 0;
};

// Runs of `node` on operands of `types` ready to time. Cold operands that outgrow a core's
// cache are copies filling 64 MiB, taken in turn; hot ones one copy. In `shared` where
// given and they fit.
class KernelRuns {
 public:
  KernelRuns(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types,
             Operands operands, ColdMemory* shared = nullptr)
      : backend_(backend), node_(node) {
    uint64_t bytes = node.type.bytes();
    for (const ir::TensorType& t : types) bytes += t.bytes();
    const bool cold = operands == Operands::cold && bytes >= kPrivateCacheBytes;
    const size_t copies = cold ? static_cast<size_t>(std::clamp<uint64_t>(kColdBytes / bytes, 1, 64)) : 1;
    // Every copy's operands in one buffer and their results in another, sliced on cache
    // lines: large buffers get huge pages (Backend::allocate), where a buffer per operand of
    // each copy faulted in 4 KiB at a time (180 ms for 64 MiB of matmul copies on a VM).
    uint64_t per_copy = 0;
    for (const ir::TensorType& t : types) per_copy += line_up(t.bytes());
    const uint64_t result_bytes = line_up(node.type.bytes());
    shared_ = shared && copies * per_copy <= kColdBytes && copies * result_bytes <= kColdBytes ? shared : nullptr;
    if (!shared_) {
      operand_memory_ = kernels::BackendBuffer(backend, copies * per_copy);
      result_memory_ = kernels::BackendBuffer(backend, copies * result_bytes);
    }
    char* next_operand = shared_ ? shared_->operands() : static_cast<char*>(operand_memory_.get());
    char* next_result = shared_ ? shared_->results() : static_cast<char*>(result_memory_.get());
    in_.resize(copies);
    for (size_t c = 0; c < copies; ++c) {
      for (const ir::TensorType& t : types) {
        // Halves for values, zeros for indices (row 0 of gather's table, class 0 of
        // cross_entropy), which go back to halves in shared memory when done.
        if (t.dtype == ir::DType::i32) {
          fill_backend_memory(backend, next_operand, t.bytes(), 0.0f);
          if (shared_) indices_.push_back({t, next_operand});
        } else if (!shared_) {
          fill_backend_memory(backend, next_operand, t.bytes(), 0.5f);
        }
        in_[c].push_back({t, next_operand});
        next_operand += line_up(t.bytes());
      }
      if (!shared_) fill_backend_memory(backend, next_result, node.type.bytes(), 0.0f);
      out_.push_back({node.type, next_result});
      next_result += result_bytes;
    }
  }

  ~KernelRuns() {
    for (const kernels::TensorRef& t : indices_) fill_backend_memory(backend_, t.data, t.type.bytes(), 0.5f);
  }
  KernelRuns(KernelRuns&&) = default;  // leaves the moved-from no indices to restore

  // One run on the next copy, waited for.
  void operator()() {
    backend_.run(node_, in_[next_], out_[next_]);
    backend_.synchronize();
    next_ = (next_ + 1) % in_.size();
  }

 private:
  kernels::Backend& backend_;
  const ir::Node node_;
  kernels::BackendBuffer operand_memory_, result_memory_;
  ColdMemory* shared_ = nullptr;
  std::vector<kernels::TensorRef> indices_;  // i32 operands in shared memory
  std::vector<std::vector<kernels::TensorRef>> in_;
  std::vector<kernels::TensorRef> out_;
  size_t next_ = 0;
};

// Seconds of one run of `node` on operands of `types`, sustained.
double time_kernel(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types,
                   Operands operands, double at_least_s = 0.05, ColdMemory* shared = nullptr) {
  KernelRuns runs(backend, node, types, operands, shared);
  return sustained(runs, at_least_s);
}

double measure_latency(kernels::Backend& backend, std::string& table, double at_least_s = 0.05) {
  const ir::TensorType one{ir::DType::f32, {1}};
  const ir::Node tiny{"add", {0, 1}, {}, one, "tiny"};
  kernels::BackendBuffer x(backend, one.bytes()), y(backend, one.bytes()), z(backend, one.bytes());
  const kernels::TensorRef in[] = {{one, x.get()}, {one, y.get()}};
  const float half = 0.5f;
  backend.copy_in(x.get(), &half, one.bytes());
  backend.copy_in(y.get(), &half, one.bytes());
  const double s = sustained([&] {
    for (int i = 0; i < 100; ++i) backend.run(tiny, in, {one, z.get()});
    backend.synchronize();
  }, at_least_s) / 100;
  table += line("  add 1 element        %9.3f us  (the fixed cost of a kernel)\n", s * 1e6);
  return s;
}

// An add at 16 KiB to 64 MiB per operand: in a core's caches, in the last level's, beyond
// any (memory_Bps, the last): the bytes/s of memory-bound ops by the bytes they move. A
// step's elementwise ops move tens of KiB to a few MiB: at 64 MiB alone, here 2-5x below
// their rate, the ops of a gpt step were predicted at twice their time.
// Returns the adds' (bytes moved, seconds), empty where not `measure`.
std::vector<std::pair<double, double>> measure_memory(kernels::Backend& backend, partitioner::Profile& p,
                                                      std::string& table, bool measure) {
  p.memory_by_size.clear();
  const std::vector<int64_t> sizes = {int64_t{4} << 10, int64_t{256} << 10, int64_t{4} << 20, int64_t{16} << 20};  // floats
  std::vector<double> seconds(sizes.size(), 0.0);  // 0s: the points kept, for another rank's figures
  if (measure) {  // in rounds over the sizes (sustained_in_rounds)
    std::vector<KernelRuns> runs;
    runs.reserve(sizes.size());
    for (int64_t n : sizes) {
      const ir::TensorType t{ir::DType::f32, {n}};
      runs.emplace_back(backend, ir::Node{"add", {0, 1}, {}, t, "add"}, std::vector<ir::TensorType>{t, t}, Operands::hot);
    }
    std::vector<std::function<void()>> calls;
    for (KernelRuns& r : runs) calls.push_back([&r] { r(); });
    seconds = sustained_in_rounds(calls, 0.05);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double operand = static_cast<double>(sizes[i]) * sizeof(float), bytes = 3 * operand;
    p.memory_by_size.emplace_back(bytes, measure ? bytes / beyond(seconds[i], p.op_latency_s) : 0.0);
    if (measure) {
      table += line("  add %-9s         %9.3f ms  %8.1f GB/s\n", bytes_text(operand).c_str(), seconds[i] * 1e3,
                    bytes / seconds[i] / 1e9);
    }
  }
  p.memory_Bps = p.memory_by_size.back().second;
  std::vector<std::pair<double, double>> seconds_by_bytes;
  for (size_t i = 0; measure && i < sizes.size(); ++i) seconds_by_bytes.emplace_back(p.memory_by_size[i].first, seconds[i]);
  return seconds_by_bytes;
}

void measure_matmuls(kernels::Backend& backend, partitioner::Profile& p, std::string& table,
                     const std::function<void()>& together, bool measure) {
  const std::vector<int64_t> sizes = {16, 64, 256, 1024};
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<Shape> shapes;
  for (int64_t k : sizes)
    for (int64_t m : sizes)
      for (int64_t n : sizes) shapes.push_back({m, n, k});
  // Every shape's runs at once, timed in rounds over all of them (sustained_in_rounds). A
  // rank that does not measure keeps the points at 0, for another rank's figures, and lines
  // up as often as one that does.
  std::vector<double> seconds(shapes.size(), 0.0);
  if (measure) {
    ColdMemory cold(backend);
    std::vector<KernelRuns> runs;
    runs.reserve(shapes.size());
    for (const Shape& s : shapes) {
      const ir::Node node{"matmul", {0, 1}, {}, ir::TensorType{ir::DType::f32, {s.m, s.n}}, "mm"};
      runs.emplace_back(backend, node, std::vector<ir::TensorType>{{ir::DType::f32, {s.m, s.k}}, {ir::DType::f32, {s.k, s.n}}},
                        Operands::cold, &cold);
    }
    std::vector<std::function<void()>> calls;
    for (KernelRuns& r : runs) calls.push_back([&r] { r(); });
    seconds = sustained_in_rounds(calls, 0.05, together);
  } else {
    for (size_t i = 0; i < kSustainedStretches * shapes.size(); ++i) together();
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k);
    const double rate = measure ? flops / beyond(seconds[i], p.op_latency_s) : 0.0;
    if (measure) p.matmul_flops = std::max(p.matmul_flops, flops / seconds[i]);
    p.matmul_by_shape.push_back({static_cast<double>(s.m), static_cast<double>(s.n), static_cast<double>(s.k), rate});
    if (s.m == s.n && s.n == s.k) p.matmul_by_size.emplace_back(flops, rate);
    if (!measure) continue;
    if (s.m == sizes.front() && s.n == sizes.front()) {
      table += line("  matmul GFLOP/s, k = %lld: m down, n across\n  %8s", static_cast<long long>(s.k), "");
      for (int64_t n : sizes) table += line(" %9lld", static_cast<long long>(n));
    }
    if (s.n == sizes.front()) table += line("\n  %8lld", static_cast<long long>(s.m));
    table += line(" %9.1f", flops / seconds[i] / 1e9);
    if (s.m == sizes.back() && s.n == sizes.back()) table += "\n";
  }
  std::sort(p.matmul_by_size.begin(), p.matmul_by_size.end());
}

}  // namespace

void measure_kernels_briefly(kernels::Backend& backend, partitioner::Profile& p,
                             partitioner::RateCurve& bytes_by_size) {
  constexpr int kTinyAdds = 100;
  const ir::TensorType one{ir::DType::f32, {1}};
  KernelRuns tiny(backend, ir::Node{"add", {0, 1}, {}, one, "tiny"}, {one, one}, Operands::hot);
  std::vector<std::function<void()>> calls = {[&] {
    for (int i = 0; i < kTinyAdds; ++i) tiny();
  }};
  std::vector<KernelRuns> kernels;  // matmuls at m = n = k of 32, 128, 512; adds of 16 KiB, 1 MiB, 16 MiB an operand
  const std::vector<int64_t> matmuls = {32, 128, 512}, adds = {int64_t{4} << 10, int64_t{256} << 10, int64_t{4} << 20};
  for (int64_t n : matmuls) {
    const ir::TensorType t{ir::DType::f32, {n, n}};
    kernels.emplace_back(backend, ir::Node{"matmul", {0, 1}, {}, t, "mm"}, std::vector<ir::TensorType>{t, t}, Operands::cold);
  }
  for (int64_t n : adds) {
    const ir::TensorType t{ir::DType::f32, {n}};
    kernels.emplace_back(backend, ir::Node{"add", {0, 1}, {}, t, "add"}, std::vector<ir::TensorType>{t, t}, Operands::hot);
  }
  for (KernelRuns& k : kernels) calls.push_back([&k] { k(); });
  std::vector<double> s;
  std::vector<std::pair<double, double>> adds_s;  // (bytes moved, seconds) of each add
  for (int attempt = 1; attempt <= kTimingAttempts; ++attempt) {  // as measure_kernels, the last kept
    s = time_in_rounds(calls);
    adds_s.clear();
    for (size_t i = 0; i < adds.size(); ++i) {
      adds_s.emplace_back(3.0 * static_cast<double>(adds[i]) * sizeof(float), s[1 + matmuls.size() + i]);
    }
    if (doubtful_adds(s[0] / kTinyAdds, adds_s).empty()) break;
  }
  p.op_latency_s = s[0] / kTinyAdds;
  p.matmul_by_size.clear();
  for (size_t i = 0; i < matmuls.size(); ++i) {
    const double flops = 2.0 * static_cast<double>(matmuls[i] * matmuls[i] * matmuls[i]);
    p.matmul_by_size.emplace_back(flops, flops / beyond(s[1 + i], p.op_latency_s));
    p.matmul_flops = std::max(p.matmul_flops, flops / s[1 + i]);
  }
  bytes_by_size.clear();
  for (const auto& [bytes, seconds] : adds_s) bytes_by_size.emplace_back(bytes, bytes / beyond(seconds, p.op_latency_s));
}

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
double op_after_writes(kernels::Backend& backend, const ir::Graph& g, ir::ValueId v) {
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
  const auto writes = [&] {
    for (size_t i = 0; i < written.size(); ++i) {
      backend.run(ir::Node{"relu", {0}, {}, written[i].type, "write"}, std::span(&written[i], 1), written[i]);
    }
    backend.synchronize();
  };
  const std::vector<double> s = time_in_rounds({writes, [&] {
                                                  writes();
                                                  backend.run(n, operands, out);
                                                  backend.synchronize();
                                                }});
  return std::max(s[1] - s[0], 0.1 * s[1]);
}

}  // namespace

ProgramOpRates measure_program_ops(kernels::Backend& backend, const ir::Graph& g, double latency_s, double budget_s) {
  const auto start = Clock::now();
  const std::vector<ir::ValueId> chosen = largest_instance_of_each_op(g);
  ProgramOpRates rates{std::vector<double>(chosen.size(), 0.0), std::vector<double>(chosen.size(), 0.0), {}};
  const std::vector<double> fixed = own_fixed_costs(backend, g, chosen, latency_s);
  ColdMemory cold(backend);
  for (size_t op = 0; op < chosen.size(); ++op) {
    if (chosen[op] < 0 || seconds_since(start) - cold.fill_seconds() > budget_s) continue;
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
      // a transpose of what the kernel before just wrote.
      if (partitioner::op_bytes(g, chosen[op]) >= kPrivateCacheBytes) {
        rates.in_cache[op] = flops / beyond(op_after_writes(backend, g, chosen[op]), fixed[op]);
      }
    } catch (const Error&) {
      // A kernel that refuses these made-up operands keeps the roofline's estimate.
    }
  }
  rates.gemms_beyond_cache = time_gemms_cold(backend, g, budget_s, cold);
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
  const auto gemm = [&] {
    backend.run(n, operands, out);
    backend.synchronize();
  };
  const auto writes = [&] {
    for (size_t i = 0; i < written.size(); ++i) {
      backend.run(ir::Node{"relu", {0}, {}, written[i].type, "write"}, std::span(&sources[i], 1), written[i]);
    }
    backend.synchronize();
  };
  const std::vector<double> s = time_in_rounds({writes, [&] {
                                                  writes();
                                                  gemm();
                                                }});
  return std::max(s[1] - s[0], 0.0);
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

std::int64_t private_cache_bytes() {
  const long bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return bytes > 0 ? bytes : 0;
}

std::string doubtful_adds(double latency_s, const std::vector<std::pair<double, double>>& seconds_by_bytes) {
  if (seconds_by_bytes.empty()) return "";
  const auto& [largest_bytes, largest_s] = seconds_by_bytes.back();
  const double memory_Bps = largest_bytes / largest_s;
  for (const auto& [bytes, seconds] : seconds_by_bytes) {
    const double at_most = kMostBelowMemory * (latency_s + bytes / memory_Bps);
    if (seconds > at_most) {
      return line("an add moving %s took %.3f ms, over %.0fx what the fixed cost (%.3f us) and memory's %.1f GB/s "
                  "give it (%.3f ms): its kernel threads waited for a PU that did not run them",
                  bytes_text(bytes).c_str(), seconds * 1e3, kMostBelowMemory, latency_s * 1e6, memory_Bps / 1e9,
                  at_most / kMostBelowMemory * 1e3);
    }
  }
  return "";
}

std::string doubtful_matmuls(const std::vector<partitioner::GemmPoint>& grid) {
  for (const partitioner::GemmPoint& small : grid) {
    for (const partitioner::GemmPoint& large : grid) {
      if (large.m < small.m || large.n < small.n || large.k < small.k) continue;
      if (large.flops_per_s * kMostBelowSmaller >= small.flops_per_s) continue;
      return line("a matmul of %gx%gx%g (m, n, k) ran at %.3f GFLOP/s, over %.0fx below the %gx%gx%g's %.3f: "
                  "its kernel threads waited for a PU that did not run them",
                  large.m, large.n, large.k, large.flops_per_s / 1e9, kMostBelowSmaller, small.m, small.n, small.k,
                  small.flops_per_s / 1e9);
    }
  }
  return "";
}

namespace {

// Runs `attempt` (which times into the table it is given and says what is doubtful of what
// it timed, "" for nothing) until no rank doubts (`any_rank`, as measure_kernels says), at
// most kTimingAttempts times; the table says why each was timed again, and warns where the
// last was still doubted.
void timed_until_steady(std::string& table, const std::function<bool(bool)>& any_rank,
                        const std::function<std::string(std::string& timed)>& attempt) {
  for (int n = 1;; ++n) {
    std::string timed;
    const std::string doubt = attempt(timed);
    const bool again = any_rank ? any_rank(!doubt.empty()) : !doubt.empty();
    const std::string why = doubt.empty() ? "another rank's figures were at odds" : doubt;
    if (!again) {
      table += timed;
      return;
    }
    if (n == kTimingAttempts) {
      table += timed + "  warning: kept, though after " + std::to_string(kTimingAttempts) + " attempts " + why +
               "; profile again on a quiet machine\n";
      return;
    }
    table += line("  timed again (attempt %d of %d): ", n + 1, kTimingAttempts) + why + "\n";
  }
}

}  // namespace

void measure_kernels(kernels::Backend& backend, partitioner::Profile& p, std::string& table,
                     const std::function<void()>& together, bool measure, const std::function<bool(bool)>& any_rank) {
  table += "kernels (this rank's backend, " + std::string(backend.name()) + ")\n";
  timed_until_steady(table, any_rank, [&](std::string& timed) {
    together();
    if (measure) p.op_latency_s = measure_latency(backend, timed);
    together();
    return doubtful_adds(p.op_latency_s, measure_memory(backend, p, timed, measure));
  });
  timed_until_steady(table, any_rank, [&](std::string& timed) {
    p.matmul_flops = 0;
    p.matmul_by_size.clear();
    p.matmul_by_shape.clear();
    measure_matmuls(backend, p, timed, together, measure);
    return measure ? doubtful_matmuls(p.matmul_by_shape) : std::string();
  });
}

SquareMatmul::SquareMatmul(kernels::Backend& backend, int64_t n)
    : backend_(backend),
      type_{ir::DType::f32, {n, n}},
      a_(backend, type_.bytes()),
      b_(backend, type_.bytes()),
      c_(backend, type_.bytes()) {
  fill_backend_memory(backend, a_.get(), type_.bytes(), 0.5f);
  fill_backend_memory(backend, b_.get(), type_.bytes(), 0.5f);
}

void SquareMatmul::run() {
  const kernels::TensorRef in[] = {{type_, a_.get()}, {type_, b_.get()}};
  backend_.run(ir::Node{"matmul", {0, 1}, {}, type_, "mm"}, in, {type_, c_.get()});
  backend_.synchronize();
}

void fill_backend_memory(kernels::Backend& backend, void* dst, uint64_t bytes, float value) {
  const std::vector<float> chunk(static_cast<size_t>(std::min<uint64_t>(bytes / sizeof(float), 16384)), value);
  const uint64_t step = chunk.size() * sizeof(float);
  for (uint64_t at = 0; step > 0 && at < bytes; at += step) {
    backend.copy_in(static_cast<char*>(dst) + at, chunk.data(), std::min(step, bytes - at));
  }
}

}  // namespace spmd::runtime
