// Kernels along one line of a tensor, one warp per line: softmax and log_softmax and their
// gradients, layernorm over the last axis and its gradients, cross-entropy. Sums are in
// double and max-subtracted where exponentials are taken, as in the reference.
#include <cmath>

#include "kernels/cuda/device_util.cuh"

namespace spmd::kernels::cuda {
namespace {

// The first element of line `line` (of outer * inner); its elements lie `inner` apart.
__device__ inline int64_t line_start(const Lines& l, int64_t line) {
  return (line / l.inner) * l.axis * l.inner + line % l.inner;
}

// max and log(sum(exp(x - max))) of one line, known to every lane.
__device__ inline void line_stats(const float* x, int64_t step, int64_t n, int lane, double& max, double& log_sum) {
  double m = -INFINITY;
  for (int64_t k = lane; k < n; k += kWarp) m = fmax(m, static_cast<double>(x[k * step]));
  m = warp_max(m);
  double sum = 0.0;
  for (int64_t k = lane; k < n; k += kWarp) sum += exp(static_cast<double>(x[k * step]) - m);
  max = m;
  log_sum = log(warp_sum(sum));
}

__global__ void softmax_kernel(bool take_log, const float* x, float* y, Lines l) {
  SPMD_WARP_STRIDE(line, l.outer * l.inner) {
    const int64_t start = line_start(l, line);
    double max, log_sum;
    line_stats(x + start, l.inner, l.axis, lane, max, log_sum);
    for (int64_t k = lane; k < l.axis; k += kWarp) {
      const double shifted = x[start + k * l.inner] - max - log_sum;
      y[start + k * l.inner] = static_cast<float>(take_log ? shifted : exp(shifted));
    }
  }
}

__global__ void softmax_grad_kernel(bool take_log, const float* y, const float* dy, float* dx, Lines l) {
  SPMD_WARP_STRIDE(line, l.outer * l.inner) {
    const int64_t start = line_start(l, line);
    double sum = 0.0;
    for (int64_t k = lane; k < l.axis; k += kWarp) {
      const int64_t at = start + k * l.inner;
      sum += take_log ? static_cast<double>(dy[at]) : static_cast<double>(dy[at]) * y[at];
    }
    sum = warp_sum(sum);
    for (int64_t k = lane; k < l.axis; k += kWarp) {
      const int64_t at = start + k * l.inner;
      dx[at] = static_cast<float>(take_log ? dy[at] - exp(static_cast<double>(y[at])) * sum : y[at] * (dy[at] - sum));
    }
  }
}

// mean and 1 / sqrt(biased variance + eps) of a row, known to every lane.
__device__ inline void row_stats(const float* x, int64_t d, float eps, int lane, double& mean, double& rstd) {
  double sum = 0.0;
  for (int64_t j = lane; j < d; j += kWarp) sum += x[j];
  mean = warp_sum(sum) / static_cast<double>(d);
  double sq = 0.0;
  for (int64_t j = lane; j < d; j += kWarp) sq += (x[j] - mean) * (x[j] - mean);
  rstd = 1.0 / sqrt(warp_sum(sq) / static_cast<double>(d) + eps);
}

__global__ void layernorm_kernel(const float* x, const float* scale, const float* bias, float* y, int64_t rows,
                                 int64_t d, float eps) {
  SPMD_WARP_STRIDE(r, rows) {
    double mean, rstd;
    row_stats(x + r * d, d, eps, lane, mean, rstd);
    for (int64_t j = lane; j < d; j += kWarp) {
      y[r * d + j] = static_cast<float>(scale[j] * (x[r * d + j] - mean) * rstd + bias[j]);
    }
  }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * scale.
__global__ void layernorm_grad_kernel(const float* x, const float* scale, const float* dy, float* dx, int64_t rows,
                                      int64_t d, float eps) {
  SPMD_WARP_STRIDE(r, rows) {
    double mean, rstd;
    row_stats(x + r * d, d, eps, lane, mean, rstd);
    double mean_g = 0.0, mean_gx = 0.0;
    for (int64_t j = lane; j < d; j += kWarp) {
      const double g = static_cast<double>(dy[r * d + j]) * scale[j];
      mean_g += g;
      mean_gx += g * (x[r * d + j] - mean) * rstd;
    }
    mean_g = warp_sum(mean_g) / static_cast<double>(d);
    mean_gx = warp_sum(mean_gx) / static_cast<double>(d);
    for (int64_t j = lane; j < d; j += kWarp) {
      const double g = static_cast<double>(dy[r * d + j]) * scale[j];
      const double xhat = (x[r * d + j] - mean) * rstd;
      dx[r * d + j] = static_cast<float>(rstd * (g - mean_g - xhat * mean_gx));
    }
  }
}

__global__ void row_stats_kernel(const float* x, float* stats, int64_t rows, int64_t d, float eps) {
  SPMD_WARP_STRIDE(r, rows) {
    double mean, rstd;
    row_stats(x + r * d, d, eps, lane, mean, rstd);
    if (lane == 0) {
      stats[2 * r] = static_cast<float>(mean);
      stats[2 * r + 1] = static_cast<float>(rstd);
    }
  }
}

// The rows are cut into gridDim.y chunks, each summed by its own threads into `partial`
// (one double per chunk and column; neighbouring threads read neighbouring elements of a
// row), then the chunks are summed in order: enough threads for a few columns and many rows.
constexpr int64_t kScaleGradChunks = 128;

__global__ void layernorm_scale_partial_kernel(const float* x, const float* dy, const float* stats, double* partial,
                                               int64_t rows, int64_t d) {
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  const int64_t per_chunk = (rows + gridDim.y - 1) / gridDim.y;
  const int64_t begin = blockIdx.y * per_chunk, end = begin + per_chunk < rows ? begin + per_chunk : rows;
  double sum = 0.0;
  for (int64_t r = begin; r < end; ++r) {
    sum += static_cast<double>(dy[r * d + j]) * (x[r * d + j] - stats[2 * r]) * stats[2 * r + 1];
  }
  partial[blockIdx.y * d + j] = sum;
}

__global__ void sum_chunks_kernel(const double* partial, int64_t chunks, float* out, int64_t d) {
  SPMD_GRID_STRIDE(j, d) {
    double sum = 0.0;
    for (int64_t c = 0; c < chunks; ++c) sum += partial[c * d + j];
    out[j] = static_cast<float>(sum);
  }
}

__device__ inline bool label_ok(ErrorReport* err, long long code, int32_t label, int64_t r, int64_t classes,
                                int lane) {
  if (label >= 0 && label < classes) return true;
  if (lane == 0) report(err, code, label, r, classes);
  return false;
}

__global__ void cross_entropy_kernel(const float* logits, const int32_t* labels, float* loss, int64_t n,
                                     int64_t classes, ErrorReport* err) {
  SPMD_WARP_STRIDE(r, n) {
    const int32_t label = labels[r];
    double max, log_sum;
    line_stats(logits + r * classes, 1, classes, lane, max, log_sum);
    if (!label_ok(err, kErrLabel, label, r, classes, lane)) {
      if (lane == 0) loss[r] = 0.f;
      continue;
    }
    if (lane == 0) loss[r] = static_cast<float>(max + log_sum - logits[r * classes + label]);
  }
}

__global__ void cross_entropy_grad_kernel(const float* logits, const int32_t* labels, const float* dloss,
                                          float* dlogits, int64_t n, int64_t classes, ErrorReport* err) {
  SPMD_WARP_STRIDE(r, n) {
    const int32_t label = labels[r];
    double max, log_sum;
    line_stats(logits + r * classes, 1, classes, lane, max, log_sum);
    const bool ok = label_ok(err, kErrLabelGrad, label, r, classes, lane);
    for (int64_t j = lane; j < classes; j += kWarp) {
      const double p = exp(logits[r * classes + j] - max - log_sum);
      dlogits[r * classes + j] = ok ? static_cast<float>(dloss[r] * (p - (j == label ? 1.0 : 0.0))) : 0.f;
    }
  }
}

}  // namespace

void launch_softmax(cudaStream_t s, bool log, const float* x, float* y, Lines l) {
  softmax_kernel<<<warp_blocks_for(l.outer * l.inner), kThreads, 0, s>>>(log, x, y, l);
}

void launch_softmax_grad(cudaStream_t s, bool log, const float* y, const float* dy, float* dx, Lines l) {
  softmax_grad_kernel<<<warp_blocks_for(l.outer * l.inner), kThreads, 0, s>>>(log, y, dy, dx, l);
}

void launch_layernorm(cudaStream_t s, const float* x, const float* scale, const float* bias, float* y, int64_t rows,
                      int64_t d, float eps) {
  layernorm_kernel<<<warp_blocks_for(rows), kThreads, 0, s>>>(x, scale, bias, y, rows, d, eps);
}

void launch_layernorm_grad(cudaStream_t s, const float* x, const float* scale, const float* dy, float* dx,
                           int64_t rows, int64_t d, float eps) {
  layernorm_grad_kernel<<<warp_blocks_for(rows), kThreads, 0, s>>>(x, scale, dy, dx, rows, d, eps);
}

int64_t layernorm_scale_grad_scratch_bytes(int64_t rows, int64_t d) {
  return 2 * rows * static_cast<int64_t>(sizeof(float)) + kScaleGradChunks * d * static_cast<int64_t>(sizeof(double));
}

void launch_layernorm_scale_grad(cudaStream_t s, const float* x, const float* dy, float* dscale, void* scratch,
                                 int64_t rows, int64_t d, float eps) {
  double* partial = static_cast<double*>(scratch);
  float* stats = reinterpret_cast<float*>(partial + kScaleGradChunks * d);
  const int64_t chunks = rows < kScaleGradChunks ? (rows < 1 ? 1 : rows) : kScaleGradChunks;
  row_stats_kernel<<<warp_blocks_for(rows), kThreads, 0, s>>>(x, stats, rows, d, eps);
  const dim3 grid(static_cast<unsigned>((d + kThreads - 1) / kThreads), static_cast<unsigned>(chunks));
  layernorm_scale_partial_kernel<<<grid, kThreads, 0, s>>>(x, dy, stats, partial, rows, d);
  sum_chunks_kernel<<<blocks_for(d), kThreads, 0, s>>>(partial, chunks, dscale, d);
}

void launch_cross_entropy(cudaStream_t s, const float* logits, const int32_t* labels, float* loss, int64_t n,
                          int64_t classes, ErrorReport* err) {
  cross_entropy_kernel<<<warp_blocks_for(n), kThreads, 0, s>>>(logits, labels, loss, n, classes, err);
}

void launch_cross_entropy_grad(cudaStream_t s, const float* logits, const int32_t* labels, const float* dloss,
                               float* dlogits, int64_t n, int64_t classes, ErrorReport* err) {
  cross_entropy_grad_kernel<<<warp_blocks_for(n), kThreads, 0, s>>>(logits, labels, dloss, dlogits, n, classes, err);
}

}  // namespace spmd::kernels::cuda
