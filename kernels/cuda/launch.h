// Internal to the CUDA backend: the kernels' launch functions, in plain types only, so that
// the .cu files (compiled by nvcc) need nothing of the IR and the op files (plain C++) nothing
// of CUDA's language. Every launch is enqueued on `stream` and returns at once; sizes are in
// elements. Kernels accumulate in double where they sum along a line, as the reference does.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace spmd::kernels::cuda {

// Tensors of up to this rank are indexed on the device (the IR's tensors are far below it).
constexpr int kMaxRank = 8;

// A walk over a result of `shape` (row-major) that reads (or writes) the other tensor at
// `offset + sum(index[d] * stride[d])`: transposes, broadcasts, slices, pads and concats
// are all one such walk with the right strides (0 where an axis is broadcast).
struct StridedIndex {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[kMaxRank] = {};
  int64_t offset = 0;
};

// Where a kernel reports bad input it found (an id or label out of range): the first report
// wins; the backend reads it back in synchronize() and throws. Device memory.
struct ErrorReport {
  long long code;  // 0: none; see kErr*
  long long value, position, bound;
};
constexpr long long kErrGatherId = 1, kErrScatterId = 2, kErrLabel = 3, kErrLabelGrad = 4;

enum class Unary { neg, exp, log, sqrt, rsqrt, tanh, relu, gelu };
enum class Binary { add, sub, mul, div, relu_grad, gelu_grad };
enum class Reduce { sum, mean, max };

// y = f(x) over n elements.
void launch_unary(cudaStream_t s, Unary f, const float* x, float* y, int64_t n);
// y[i] = f(a[ia(i)], b[ib(i)]) over the n elements of y; `a`/`b` walks give each operand's
// broadcast strides over y's shape (null walks: the operand has y's shape).
void launch_binary(cudaStream_t s, Binary f, const float* a, const StridedIndex* ia, const float* b,
                   const StridedIndex* ib, float* y, int64_t n);
// y = x with the entries above the diagonal of each trailing [seq, seq] block set to fill.
void launch_causal_mask(cudaStream_t s, const float* x, float* y, int64_t n, int64_t seq, float fill);
// n 32-bit words set to `bits` (a float's or an int's).
void launch_fill(cudaStream_t s, void* y, int64_t n, uint32_t bits);
// *flag = 1 when one of x's n floats is NaN or infinite (left as it is otherwise).
void launch_flag_nonfinite(cudaStream_t s, const float* x, int64_t n, int* flag);

// y[i] = x[walk(i)] over y's n 32-bit words (transpose, broadcast, slice).
void launch_gather_strided(cudaStream_t s, const void* x, const StridedIndex& walk, void* y, int64_t n);
// y[walk(i)] = x[i] over x's n 32-bit words (pad, concat).
void launch_scatter_strided(cudaStream_t s, const void* x, const StridedIndex& walk, void* y, int64_t n);

// The reduction of x over the axes `reduced` walks, for each of the `outputs` results whose
// first element `kept` walks: out[o] = f over r of x[kept(o) + reduced(r)].
void launch_reduce(cudaStream_t s, Reduce f, const float* x, const StridedIndex& kept,
                   const StridedIndex& reduced, float* y, int64_t outputs);
// dx[i] = x[i] == y[kept(i)] ? dy[kept(i)] : 0, where kept maps x's index to y's position.
void launch_reduce_max_grad(cudaStream_t s, const float* x, const float* y, const float* dy,
                            const StridedIndex& kept, float* dx, int64_t n);

// Lines along an axis: `outer * inner` lines of `axis` elements, `inner` apart.
struct Lines {
  int64_t outer = 1, axis = 1, inner = 1;
};
void launch_softmax(cudaStream_t s, bool log, const float* x, float* y, Lines lines);
// softmax: y * (dy - sum(dy * y)); log_softmax: dy - exp(y) * sum(dy).
void launch_softmax_grad(cudaStream_t s, bool log, const float* y, const float* dy, float* dx, Lines lines);

// Over `rows` rows of `d` elements: layernorm, its input gradient, and its scale gradient
// (`scratch`: device memory of layernorm_scale_grad_scratch_bytes).
void launch_layernorm(cudaStream_t s, const float* x, const float* scale, const float* bias, float* y,
                      int64_t rows, int64_t d, float eps);
void launch_layernorm_grad(cudaStream_t s, const float* x, const float* scale, const float* dy, float* dx,
                           int64_t rows, int64_t d, float eps);
int64_t layernorm_scale_grad_scratch_bytes(int64_t rows, int64_t d);
void launch_layernorm_scale_grad(cudaStream_t s, const float* x, const float* dy, float* dscale, void* scratch,
                                 int64_t rows, int64_t d, float eps);

// table[rows, d], ids[n] -> y[n, d]; ids[n], dy[n, d] -> y[rows, d] (+=, zeroed first).
void launch_gather_rows(cudaStream_t s, const float* table, const int32_t* ids, float* y, int64_t n,
                        int64_t rows, int64_t d, ErrorReport* err);
void launch_scatter_add_rows(cudaStream_t s, const int32_t* ids, const float* dy, float* y, int64_t n,
                             int64_t rows, int64_t d, ErrorReport* err);
// logits[n, classes], labels[n] -> loss[n]; and dlogits = dloss * (softmax - onehot).
void launch_cross_entropy(cudaStream_t s, const float* logits, const int32_t* labels, float* loss, int64_t n,
                          int64_t classes, ErrorReport* err);
void launch_cross_entropy_grad(cudaStream_t s, const float* logits, const int32_t* labels, const float* dloss,
                               float* dlogits, int64_t n, int64_t classes, ErrorReport* err);

// Optimizer updates over n elements; `lr` and `step` are device scalars.
void launch_ema(cudaStream_t s, bool square, const float* x, const float* g, float* y, int64_t n, float decay,
                float gain);
void launch_sgd(cudaStream_t s, const float* p, const float* v, const float* lr, float* y, int64_t n);
struct AdamW {
  float beta1, beta2, eps, weight_decay;
};
void launch_adamw(cudaStream_t s, const float* p, const float* m, const float* v, const float* lr,
                  const float* step, float* y, int64_t n, AdamW h);

}  // namespace spmd::kernels::cuda
