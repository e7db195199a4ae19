// The CUDA backend on a whole training step: runs a model's step (forward, backward, AdamW)
// node by node on the GPU and prints step time, tokens/s, the share of matmuls and their
// GFLOP/s against cuBLAS's own SGEMM on the same shapes, measured in the same run. Needs
// only the CUDA toolkit (it builds in SPMD_GPU_ONLY). Medians of the timed steps.
//
//   bench_cuda_step [MODEL] [STEPS]     (default gpt:layers=12,d_model=768,heads=12,seq=1024,batch=8, 10)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/stats.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "kernels/backend.h"

namespace {

using namespace spmd;
using Clock = std::chrono::steady_clock;

// The ids' bound: no gather table and no cross-entropy has fewer rows or classes.
int32_t id_bound(const ir::Graph& g) {
  int64_t bound = 1 << 30;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (n.op == "gather") bound = std::min(bound, g.type(n.inputs[0]).shape[0]);
    if (n.op == "cross_entropy") bound = std::min(bound, g.type(n.inputs[0]).shape.back());
  }
  return static_cast<int32_t>(bound);
}

struct Gemm {
  int64_t m, n, k, batch;
  bool ta, tb;
  double flops() const { return 2.0 * m * n * k * batch; }
};

Gemm gemm_of(const ir::Graph& g, const ir::Node& n) {
  const ir::Shape& a = g.type(n.inputs[0]).shape;
  const ir::Shape& b = g.type(n.inputs[1]).shape;
  const bool ta = n.attrs.i("transpose_a", 0) != 0, tb = n.attrs.i("transpose_b", 0) != 0;
  Gemm x{ta ? a.back() : a[a.size() - 2], tb ? b[b.size() - 2] : b.back(), ta ? a[a.size() - 2] : a.back(), 1, ta, tb};
  for (size_t d = 0; d + 2 < n.type.shape.size(); ++d) x.batch *= n.type.shape[d];
  return x;
}

// cuBLAS's own strided-batched SGEMM on `x`'s shapes: seconds per call, median of 10.
double cublas_seconds(cublasHandle_t h, const Gemm& x) {
  float *a, *b, *c;
  cudaMalloc(&a, x.m * x.k * x.batch * 4);
  cudaMalloc(&b, x.k * x.n * x.batch * 4);
  cudaMalloc(&c, x.m * x.n * x.batch * 4);
  const float one = 1, zero = 0;
  auto call = [&] {
    cublasSgemmStridedBatched(h, x.tb ? CUBLAS_OP_T : CUBLAS_OP_N, x.ta ? CUBLAS_OP_T : CUBLAS_OP_N, x.n, x.m, x.k,
                              &one, b, x.tb ? x.k : x.n, x.k * x.n, a, x.ta ? x.m : x.k, x.m * x.k, &zero, c, x.n,
                              x.m * x.n, x.batch);
  };
  call();
  cudaDeviceSynchronize();
  std::vector<double> times;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (int r = 0; r < 10; ++r) {
    cudaEventRecord(start);
    call();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    times.push_back(ms / 1e3);
  }
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return median(times);
}

int run(const std::string& spec, int steps) {
  std::string why;
  if (kernels::cuda_device_count(&why) == 0) {
    std::printf("bench_cuda_step: skipped, no GPU: %s\n", why.c_str());
    return 0;
  }
  const ir::Graph g = ir::training_step(ir::build_model(spec), ir::Optimizer{});
  auto gpu = kernels::make_cuda_backend(0);
  std::vector<kernels::BackendBuffer> buffers;
  std::vector<kernels::TensorRef> values;
  std::mt19937 rng(1);
  const int32_t bound = id_bound(g);
  int64_t tokens = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (ir::op_traits(n.op).view) {  // a view shares its operand's buffer, as in the executor
      values.push_back({n.type, values[n.inputs[0]].data});
      continue;
    }
    buffers.emplace_back(*gpu, n.type.bytes());
    values.push_back({n.type, buffers.back().get()});
    if (!n.is_source() || n.op == "constant") continue;
    std::vector<float> host(static_cast<size_t>(n.type.numel()), 0.f);
    if (n.type.dtype == ir::DType::i32) {
      tokens = std::max(tokens, n.type.numel());
      std::uniform_int_distribution<int32_t> id(0, bound - 1);
      for (float& w : host) {
        const int32_t x = id(rng);
        std::memcpy(&w, &x, 4);
      }
    } else if (n.op == "param") {
      std::normal_distribution<float> normal(0.f, 0.02f);
      for (float& w : host) w = normal(rng);
      if (n.attrs.s("init", "") == "ones") std::fill(host.begin(), host.end(), 1.f);
    } else if (n.op == "input") {
      std::fill(host.begin(), host.end(), n.attrs.s("feed", "") == "lr" ? 1e-4f : 1.f);
    }
    gpu->copy_in(values.back().data, host.data(), n.type.bytes());
  }
  auto step = [&](std::map<std::string, double>* per_op) {
    for (ir::ValueId v = 0; v < g.size(); ++v) {
      const ir::Node& n = g.node(v);
      if (!ir::op_traits(n.op).needs_kernel()) continue;
      std::vector<kernels::TensorRef> in;
      for (ir::ValueId x : n.inputs) in.push_back(values[x]);
      const auto start = Clock::now();
      gpu->run(n, in, values[v]);
      if (per_op) {
        gpu->synchronize();
        (*per_op)[n.op] += std::chrono::duration<double>(Clock::now() - start).count();
      }
    }
    for (auto [state, next] : g.updates) gpu->copy_within(values[state].data, values[next].data, g.type(state).bytes());
    gpu->synchronize();
  };
  step(nullptr);
  step(nullptr);
  std::vector<double> times;
  for (int s = 0; s < steps; ++s) {
    const auto start = Clock::now();
    step(nullptr);
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::map<std::string, double> per_op;
  step(&per_op);
  double matmul_flops = 0, cublas_time = 0;
  cublasHandle_t h;
  cublasCreate(&h);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).op != "matmul") continue;
    const Gemm x = gemm_of(g, g.node(v));
    matmul_flops += x.flops();
    cublas_time += cublas_seconds(h, x);
  }
  cublasDestroy(h);
  double profiled = 0;
  for (const auto& [op, t] : per_op) profiled += t;
  const double t = median(times);
  std::printf("model %s, %lld tokens per step, %d timed steps (median)\n", spec.c_str(),
              static_cast<long long>(tokens), steps);
  std::printf("step %.2f ms   %.0f tokens/s   %.1f GFLOP/s of matmul over the whole step\n", t * 1e3, tokens / t,
              matmul_flops / t / 1e9);
  const double ours = per_op["matmul"];
  std::printf("matmuls: %.1f%% of a profiled step, %.1f GFLOP/s; cuBLAS alone on the same shapes %.1f GFLOP/s: %.2fx\n",
              100 * ours / profiled, matmul_flops / ours / 1e9, matmul_flops / cublas_time / 1e9,
              cublas_time / ours);
  std::printf("%-22s %10s %7s\n", "op (profiled step)", "ms", "share");
  std::vector<std::pair<double, std::string>> by_time;
  for (const auto& [op, s] : per_op) by_time.push_back({s, op});
  std::sort(by_time.rbegin(), by_time.rend());
  for (const auto& [s, op] : by_time) std::printf("%-22s %10.3f %6.1f%%\n", op.c_str(), s * 1e3, 100 * s / profiled);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string spec = argc > 1 ? argv[1] : "gpt:layers=12,d_model=768,heads=12,seq=1024,batch=8";
    const int steps = argc > 2 ? std::stoi(argv[2]) : 10;
    return run(spec, steps);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_step: %s\n", e.what());
    return 2;
  }
}
