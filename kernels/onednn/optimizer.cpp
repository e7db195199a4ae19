// Optimizer updates: flat elementwise loops over a parameter and its state, split over
// threads, vectorised. Bias corrections and other per-step scalars are computed once, in
// double.
#include <cmath>

#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"

namespace spmd::kernels::cpu {
namespace {

// x, g {decay, gain} -> decay*x + gain*g (kSquare: gain*g*g).
template <bool kSquare>
void ema(CpuContext&, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const auto decay = static_cast<float>(node.attrs.f("decay"));
  const auto gain = static_cast<float>(node.attrs.f("gain"));
  const float* x = in[0].f32();
  const float* g = in[1].f32();
  float* y = out.f32();
  parallel_chunks(out.numel(), 1, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      y[i] = decay * x[i] + gain * (kSquare ? g[i] * g[i] : g[i]);
  });
}

// p, v, lr -> p - lr*v.
void sgd(CpuContext&, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  const float lr = in[2].f32()[0];
  const float* p = in[0].f32();
  const float* v = in[1].f32();
  float* y = out.f32();
  parallel_chunks(out.numel(), 1, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) y[i] = p[i] - lr * v[i];
  });
}

// p, m, v, lr, step -> p - lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p), with
// mhat = m / (1 - beta1^step) and vhat = v / (1 - beta2^step).
void adamw(CpuContext&, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const double step = in[4].f32()[0];
  const auto lr = static_cast<float>(in[3].f32()[0]);
  const auto m_scale = static_cast<float>(1.0 / (1.0 - std::pow(node.attrs.f("beta1"), step)));
  const auto v_scale = static_cast<float>(1.0 / (1.0 - std::pow(node.attrs.f("beta2"), step)));
  const auto eps = static_cast<float>(node.attrs.f("eps"));
  const auto decay = static_cast<float>(node.attrs.f("weight_decay"));
  const float* p = in[0].f32();
  const float* m = in[1].f32();
  const float* v = in[2].f32();
  float* y = out.f32();
  parallel_chunks(out.numel(), 1, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      y[i] = p[i] - lr * (m[i] * m_scale / (std::sqrt(v[i] * v_scale) + eps) + decay * p[i]);
    }
  });
}

}  // namespace

void add_optimizer_kernels(KernelTable& table) {
  table["ema"] = ema<false>;
  table["ema_sq"] = ema<true>;
  table["sgd"] = sgd;
  table["adamw"] = adamw;
}

}  // namespace spmd::kernels::cpu
