#include "runtime/profile_kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "ir/graph.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::line;
using profile_text::seconds_since;

// Seconds per run of `fn` sustained over at least 50 ms of wall time (and 5 runs), after
// one warm-up: ranks that share a core take turns in time slices of a few ms, so a short
// run finds the core to itself and a median of them is each rank's whole-core rate, while
// a training step gets its share only. On cores of its own it equals the median's rate.
template <class F>
double sustained(F&& fn) {
  fn();
  const auto start = Clock::now();
  int runs = 0;
  do {
    fn();
    ++runs;
  } while (runs < 5 || seconds_since(start) < 0.05);
  return seconds_since(start) / runs;
}

// The time of a kernel's work: `s` less the fixed cost, at least a tenth of `s` (where the
// two are within noise of each other, the work still takes some time).
double beyond(double s, double latency_s) { return std::max(s - latency_s, 0.1 * s); }

// Seconds of one run of `node` on operands of `types`, sustained.
double time_kernel(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types) {
  std::vector<kernels::BackendBuffer> buffers;
  buffers.reserve(types.size());
  std::vector<kernels::TensorRef> in;
  for (const ir::TensorType& t : types) {
    buffers.emplace_back(backend, t.bytes());
    std::vector<float> halves(static_cast<size_t>(t.numel()), 0.5f);
    backend.copy_in(buffers.back().get(), halves.data(), t.bytes());
  }
  for (size_t i = 0; i < types.size(); ++i) in.push_back({types[i], buffers[i].get()});
  kernels::BackendBuffer out(backend, node.type.bytes());
  return sustained([&] {
    backend.run(node, in, {node.type, out.get()});
    backend.synchronize();
  });
}

double measure_latency(kernels::Backend& backend, std::string& table) {
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
  }) / 100;
  table += line("  add 1 element        %9.3f us  (the fixed cost of a kernel)\n", s * 1e6);
  return s;
}

// An add on 64 MiB per operand, beyond any cache: the device's memory bandwidth.
void measure_memory(kernels::Backend& backend, partitioner::Profile& p, std::string& table) {
  const ir::TensorType t{ir::DType::f32, {int64_t{16} << 20}};
  const double s = time_kernel(backend, ir::Node{"add", {0, 1}, {}, t, "add"}, {t, t});
  p.memory_Bps = 3.0 * static_cast<double>(t.bytes()) / s;
  table += line("  add 64 MiB           %9.3f ms  %8.1f GB/s\n", s * 1e3, p.memory_Bps / 1e9);
}

void measure_matmuls(kernels::Backend& backend, partitioner::Profile& p, std::string& table,
                     const std::function<void()>& together) {
  const std::vector<int64_t> sizes = {16, 64, 256, 1024};
  for (int64_t k : sizes) {
    table += line("  matmul GFLOP/s, k = %lld: m down, n across\n  %8s", static_cast<long long>(k), "");
    for (int64_t n : sizes) table += line(" %9lld", static_cast<long long>(n));
    for (int64_t m : sizes) {
      table += line("\n  %8lld", static_cast<long long>(m));
      for (int64_t n : sizes) {
        together();
        const ir::Node node{"matmul", {0, 1}, {}, ir::TensorType{ir::DType::f32, {m, n}}, "mm"};
        const double s = time_kernel(backend, node, {{ir::DType::f32, {m, k}}, {ir::DType::f32, {k, n}}});
        const double flops = 2.0 * static_cast<double>(m * n * k);
        const double rate = flops / beyond(s, p.op_latency_s);
        p.matmul_by_shape.push_back({static_cast<double>(m), static_cast<double>(n), static_cast<double>(k), rate});
        if (m == n && n == k) p.matmul_by_size.emplace_back(flops, rate);
        p.matmul_flops = std::max(p.matmul_flops, flops / s);
        table += line(" %9.1f", flops / s / 1e9);
      }
    }
    table += "\n";
  }
  std::sort(p.matmul_by_size.begin(), p.matmul_by_size.end());
}

}  // namespace

void measure_kernels(kernels::Backend& backend, partitioner::Profile& p, std::string& table,
                     const std::function<void()>& together) {
  table += "kernels (this rank's backend, " + std::string(backend.name()) + ")\n";
  together();
  p.op_latency_s = measure_latency(backend, table);
  together();
  measure_memory(backend, p, table);
  measure_matmuls(backend, p, table, together);
}

}  // namespace spmd::runtime
