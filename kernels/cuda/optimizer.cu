// Optimizer updates, elementwise over a parameter (or state) and its gradient; the learning
// rate and step are device scalars, read by every thread.
#include <cmath>

#include "kernels/cuda/device_util.cuh"

namespace spmd::kernels::cuda {
namespace {

__global__ void ema_kernel(bool square, const float* x, const float* g, float* y, int64_t n, float decay, float gain) {
  SPMD_GRID_STRIDE(i, n) y[i] = decay * x[i] + gain * (square ? g[i] * g[i] : g[i]);
}

__global__ void sgd_kernel(const float* p, const float* v, const float* lr, float* y, int64_t n) {
  const float rate = *lr;
  SPMD_GRID_STRIDE(i, n) y[i] = p[i] - rate * v[i];
}

// p - lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p), moments bias-corrected for `step`.
__global__ void adamw_kernel(const float* p, const float* m, const float* v, const float* lr, const float* step,
                             float* y, int64_t n, AdamW h) {
  const double rate = *lr;
  const double correction1 = 1.0 - pow(static_cast<double>(h.beta1), static_cast<double>(*step));
  const double correction2 = 1.0 - pow(static_cast<double>(h.beta2), static_cast<double>(*step));
  SPMD_GRID_STRIDE(i, n) {
    const double mhat = m[i] / correction1, vhat = v[i] / correction2;
    y[i] = static_cast<float>(p[i] - rate * (mhat / (sqrt(vhat) + h.eps) + h.weight_decay * static_cast<double>(p[i])));
  }
}

}  // namespace

void launch_ema(cudaStream_t s, bool square, const float* x, const float* g, float* y, int64_t n, float decay,
                float gain) {
  ema_kernel<<<blocks_for(n), kThreads, 0, s>>>(square, x, g, y, n, decay, gain);
}

void launch_sgd(cudaStream_t s, const float* p, const float* v, const float* lr, float* y, int64_t n) {
  sgd_kernel<<<blocks_for(n), kThreads, 0, s>>>(p, v, lr, y, n);
}

void launch_adamw(cudaStream_t s, const float* p, const float* m, const float* v, const float* lr, const float* step,
                  float* y, int64_t n, AdamW h) {
  adamw_kernel<<<blocks_for(n), kThreads, 0, s>>>(p, m, v, lr, step, y, n, h);
}

}  // namespace spmd::kernels::cuda
