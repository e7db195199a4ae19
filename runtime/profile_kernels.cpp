#include "runtime/profile_kernels.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/units.h"
#include "ir/graph.h"
#include "runtime/kernel_timing.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::line;

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
