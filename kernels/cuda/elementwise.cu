// Elementwise kernels: unaries, numpy-broadcasting binaries (with the gradients of the
// nonlinearities), the causal mask and fills.
#include <cmath>

#include "kernels/cuda/device_util.cuh"

namespace spmd::kernels::cuda {
namespace {

// sqrt(2/pi) and the cubic's coefficient of gelu's tanh approximation (as the reference).
constexpr float kGeluC = 0.7978845608028654f;
constexpr float kGeluA = 0.044715f;

template <Unary F>
__device__ float apply(float x) {
  if constexpr (F == Unary::neg) return -x;
  if constexpr (F == Unary::exp) return expf(x);
  if constexpr (F == Unary::log) return logf(x);
  if constexpr (F == Unary::sqrt) return sqrtf(x);
  if constexpr (F == Unary::rsqrt) return 1.0f / sqrtf(x);
  if constexpr (F == Unary::tanh) return tanhf(x);
  if constexpr (F == Unary::relu) return x > 0.f ? x : 0.f;
  if constexpr (F == Unary::gelu) return 0.5f * x * (1.f + tanhf(kGeluC * (x + kGeluA * x * x * x)));
  return x;
}

template <Binary F>
__device__ float apply(float a, float b) {
  if constexpr (F == Binary::add) return a + b;
  if constexpr (F == Binary::sub) return a - b;
  if constexpr (F == Binary::mul) return a * b;
  if constexpr (F == Binary::div) return a / b;
  if constexpr (F == Binary::relu_grad) return a > 0.f ? b : 0.f;  // (x, dy)
  if constexpr (F == Binary::gelu_grad) {
    const float t = tanhf(kGeluC * (a + kGeluA * a * a * a));
    return b * (0.5f * (1.f + t) + 0.5f * a * (1.f - t * t) * kGeluC * (1.f + 3.f * kGeluA * a * a));
  }
  return a;
}

template <Unary F>
__global__ void unary_kernel(const float* x, float* y, int64_t n) {
  SPMD_GRID_STRIDE(i, n) y[i] = apply<F>(x[i]);
}

template <Binary F>
__global__ void binary_same_kernel(const float* a, const float* b, float* y, int64_t n) {
  SPMD_GRID_STRIDE(i, n) y[i] = apply<F>(a[i], b[i]);
}

template <Binary F>
__global__ void binary_broadcast_kernel(const float* a, StridedIndex ia, const float* b, StridedIndex ib, float* y,
                                        int64_t n) {
  SPMD_GRID_STRIDE(i, n) y[i] = apply<F>(a[strided_offset(ia, i)], b[strided_offset(ib, i)]);
}

// Row and column of element i within its trailing [seq, seq] block; 32-bit division where it
// suffices (64-bit division is emulated in many instructions).
__device__ inline void row_col(int64_t i, int64_t seq, int64_t& row, int64_t& col) {
  if (i < (int64_t{1} << 32)) {
    const uint32_t j = static_cast<uint32_t>(i), s = static_cast<uint32_t>(seq), line = j / s;
    col = j - line * s;
    row = line % s;
    return;
  }
  col = i % seq;
  row = (i / seq) % seq;
}

__global__ void causal_mask_kernel(const float* x, float* y, int64_t n, int64_t seq, float fill) {
  SPMD_GRID_STRIDE(i, n) {
    int64_t row, col;
    row_col(i, seq, row, col);
    y[i] = col > row ? fill : x[i];
  }
}

__global__ void fill_kernel(uint32_t* y, int64_t n, uint32_t bits) {
  SPMD_GRID_STRIDE(i, n) y[i] = bits;
}

__global__ void flag_nonfinite_kernel(const float* x, int64_t n, int* flag) {
  SPMD_GRID_STRIDE(i, n) {
    if (!isfinite(x[i])) *flag = 1;  // every writer writes the same word: no atomic needed
  }
}

template <Unary F>
void unary(cudaStream_t s, const float* x, float* y, int64_t n) {
  unary_kernel<F><<<blocks_for(n), kThreads, 0, s>>>(x, y, n);
}

template <Binary F>
void binary(cudaStream_t s, const float* a, const StridedIndex* ia, const float* b, const StridedIndex* ib, float* y,
            int64_t n) {
  if (!ia && !ib) {
    binary_same_kernel<F><<<blocks_for(n), kThreads, 0, s>>>(a, b, y, n);
    return;
  }
  StridedIndex flat;  // the operand has y's shape: read it at i
  flat.rank = 1;
  flat.shape[0] = n;
  flat.stride[0] = 1;
  binary_broadcast_kernel<F><<<blocks_for(n), kThreads, 0, s>>>(a, ia ? *ia : flat, b, ib ? *ib : flat, y, n);
}

}  // namespace

void launch_unary(cudaStream_t s, Unary f, const float* x, float* y, int64_t n) {
  switch (f) {
    case Unary::neg: return unary<Unary::neg>(s, x, y, n);
    case Unary::exp: return unary<Unary::exp>(s, x, y, n);
    case Unary::log: return unary<Unary::log>(s, x, y, n);
    case Unary::sqrt: return unary<Unary::sqrt>(s, x, y, n);
    case Unary::rsqrt: return unary<Unary::rsqrt>(s, x, y, n);
    case Unary::tanh: return unary<Unary::tanh>(s, x, y, n);
    case Unary::relu: return unary<Unary::relu>(s, x, y, n);
    case Unary::gelu: return unary<Unary::gelu>(s, x, y, n);
  }
}

void launch_binary(cudaStream_t s, Binary f, const float* a, const StridedIndex* ia, const float* b,
                   const StridedIndex* ib, float* y, int64_t n) {
  switch (f) {
    case Binary::add: return binary<Binary::add>(s, a, ia, b, ib, y, n);
    case Binary::sub: return binary<Binary::sub>(s, a, ia, b, ib, y, n);
    case Binary::mul: return binary<Binary::mul>(s, a, ia, b, ib, y, n);
    case Binary::div: return binary<Binary::div>(s, a, ia, b, ib, y, n);
    case Binary::relu_grad: return binary<Binary::relu_grad>(s, a, ia, b, ib, y, n);
    case Binary::gelu_grad: return binary<Binary::gelu_grad>(s, a, ia, b, ib, y, n);
  }
}

void launch_causal_mask(cudaStream_t s, const float* x, float* y, int64_t n, int64_t seq, float fill) {
  causal_mask_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, y, n, seq, fill);
}

void launch_fill(cudaStream_t s, void* y, int64_t n, uint32_t bits) {
  fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<uint32_t*>(y), n, bits);
}

void launch_flag_nonfinite(cudaStream_t s, const float* x, int64_t n, int* flag) {
  if (n > 0) flag_nonfinite_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, n, flag);
}

}  // namespace spmd::kernels::cuda
