// Executor overhead and kernel throughput on the CPU backend.
//  1. Matmuls of the default GPT's shapes: one step of a one-op graph through the executor
//     against the same oneDNN matmul primitive called directly (ratio, GFLOP/s).
//  2. A training step of a GPT: step time, the share of it spent inside kernels, matmul
//     GFLOP/s and tokens per second.
// Every figure is the median of several runs measured in this process.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "bench_errors.h"
#include "common/stats.h"
#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "runtime/executor.h"
#include "runtime/trainer.h"

namespace {

using namespace spmd;
using Clock = std::chrono::steady_clock;

// Median over `runs` of the mean time of `iters` calls of `fn`.
double time_median(const std::function<void()>& fn, int runs, int iters) {
  fn();  // warm-up: primitive creation, page faults
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count() / iters);
  }
  return median(times);
}

struct MatmulCase {
  std::string name;
  ir::Shape a, b;
  bool transpose_b;
};

double raw_onednn_matmul(const MatmulCase& c, int runs, int iters) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::dims a(c.a.begin(), c.a.end()), b(c.b.begin(), c.b.end());
  memory::dims out = a;
  out.back() = c.transpose_b ? b[b.size() - 2] : b.back();
  auto tag = a.size() == 2 ? memory::format_tag::ab : memory::format_tag::abcd;
  auto btag = c.transpose_b ? (b.size() == 2 ? memory::format_tag::ba : memory::format_tag::abdc) : tag;
  memory::dims bdims = b;
  if (c.transpose_b) std::swap(bdims[bdims.size() - 1], bdims[bdims.size() - 2]);
  memory::desc ad(a, memory::data_type::f32, tag), bd(bdims, memory::data_type::f32, btag),
      cd(out, memory::data_type::f32, tag);
  matmul prim(matmul::primitive_desc(matmul::desc(ad, bd, cd), eng));
  memory am(ad, eng), bm(bd, eng), cm(cd, eng);
  std::fill_n(static_cast<float*>(am.get_data_handle()), ir::numel(c.a), 0.5f);
  std::fill_n(static_cast<float*>(bm.get_data_handle()), ir::numel(c.b), 0.25f);
  return time_median([&] {
    prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    s.wait();
  }, runs, iters);
}

double executor_matmul(const MatmulCase& c, kernels::Backend& backend, int runs, int iters) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId y = b.matmul(b.param("a", c.a), b.param("b", c.b), false, c.transpose_b);
  g.outputs.emplace_back("y", y);
  runtime::Executor ex(g, backend, 0);
  return time_median([&] { ex.step(); }, runs, iters);
}

void bench_matmuls(kernels::Backend& backend, int runs) {
  std::vector<MatmulCase> cases = {
      {"qkv projection", {1024, 256}, {256, 256}, false},
      {"mlp in", {1024, 256}, {256, 1024}, false},
      {"mlp out", {1024, 1024}, {1024, 256}, false},
      {"attention scores", {8, 4, 128, 64}, {8, 4, 128, 64}, true},
      {"lm head", {1024, 256}, {256, 256}, false},
  };
  std::printf("%-18s %-24s %10s %10s %8s %9s\n", "matmul", "shape", "oneDNN", "executor", "ratio", "GFLOP/s");
  for (const MatmulCase& c : cases) {
    int iters = 20;
    double raw = raw_onednn_matmul(c, runs, iters);
    double ours = executor_matmul(c, backend, runs, iters);
    int64_t k = c.a.back(), m = ir::numel(c.a) / k;
    int64_t n = c.transpose_b ? c.b[c.b.size() - 2] : c.b.back();
    double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    std::string shape = ir::to_string(c.a) + "x" + ir::to_string(c.b);
    std::printf("%-18s %-24s %8.3f ms %8.3f ms %7.3fx %9.1f\n", c.name.c_str(), shape.c_str(), raw * 1e3,
                ours * 1e3, ours / raw, flops / ours * 1e-9);
  }
}

double matmul_flops(const ir::Graph& g) {
  double flops = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op != "matmul") continue;
    const ir::Shape& a = g.type(n.inputs[0]).shape;
    int64_t k = n.attrs.i("transpose_a", 0) ? a[a.size() - 2] : a.back();
    flops += 2.0 * static_cast<double>(n.type.numel()) * static_cast<double>(k);
  }
  return flops;
}

void bench_gpt(const std::string& model, kernels::Backend& backend, int runs, int steps_per_run) {
  ir::Graph step = ir::training_step(ir::build_model(model), ir::Optimizer{});
  runtime::Trainer trainer(step, backend, 0);
  trainer.step();  // warm-up
  std::vector<double> step_times, kernel_shares;
  double items = static_cast<double>(trainer.data().items_per_step());
  for (int r = 0; r < runs; ++r) {
    trainer.executor().reset_profile();
    trainer.executor().set_profiling(true);
    double total = 0;
    for (int s = 0; s < steps_per_run; ++s) total += trainer.step().step_time_s;
    double kernel = 0;
    for (const auto& [op, p] : trainer.executor().profile()) kernel += p.seconds;
    step_times.push_back(total / steps_per_run);
    kernel_shares.push_back(kernel / total);
  }
  double t = median(step_times);
  std::printf("\n%s, AdamW, %d runs of %d steps\n", model.c_str(), runs, steps_per_run);
  std::printf("  step time        %8.1f ms (median)\n", t * 1e3);
  std::printf("  inside kernels   %8.1f %%  (executor overhead %.1f %%)\n", median(kernel_shares) * 100,
              (1 - median(kernel_shares)) * 100);
  std::printf("  matmul GFLOP/s   %8.1f (matmul flops / step time)\n", matmul_flops(step) / t * 1e-9);
  std::printf("  throughput       %8.0f tokens/s\n", items / t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Executor overhead against raw oneDNN, and GPT training throughput"};
  int runs = 5, steps = 5;
  std::string model = "gpt";
  app.add_option("--runs", runs, "runs per figure (the median is printed)")->check(CLI::Range(1, 1000000));
  app.add_option("--steps", steps, "training steps per run")->check(CLI::Range(1, 1000000));
  app.add_option("--model", model, "the model of the training-step figure");
  CLI11_PARSE(app, argc, argv);
  return bench::reporting_errors("bench_executor", [&] {
    ir::build_model(model);  // an unknown model fails before the matmul figures
    auto backend = kernels::make_cpu_backend();
    bench_matmuls(*backend, runs);
    bench_gpt(model, *backend, runs, steps);
    return 0;
  });
}
