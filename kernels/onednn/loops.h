// Internal to the CPU backend: the OpenMP loop shapes its plain kernels are built from.
// Work is split statically into one contiguous chunk per thread, so which thread computes
// which output never depends on timing; and no float is ever summed across threads, so the
// results are bit-identical run to run.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "ir/types.h"

namespace spmd::kernels::cpu {

// Below this many units of work a loop stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelWork = 1 << 15;

// Calls fn(begin, end) on disjoint chunks covering [0, n), one chunk per thread. `cost` is
// the work per item (e.g. its length), to decide whether threads pay off.
template <typename Fn>
void parallel_chunks(int64_t n, int64_t cost, Fn&& fn) {
  if (n <= 0) return;
  if (n * cost < kMinParallelWork || n == 1 || omp_get_max_threads() == 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    if (begin < end) fn(begin, end);
  }
}

// Most tensors a StridedLoop walks together (e.g. out, x, y, dy of reduce_max_grad).
constexpr int kMaxTensors = 4;
using Offsets = std::array<int64_t, kMaxTensors>;

// A loop nest over `dims` walking up to kMaxTensors tensors at once, each with its own
// strides (0 on an axis it is broadcast along) and base offset. Made by strided_loop(),
// which drops size-1 axes and merges adjacent axes that every tensor walks contiguously, so
// the innermost run is as long as possible (a same-shape binary becomes one flat run).
struct StridedLoop {
  int tensors = 0;
  std::vector<int64_t> dims;     // outermost first; the last is the run
  std::vector<Offsets> strides;  // per axis, per tensor
  Offsets base{};                // per tensor
  int64_t run() const { return dims.back(); }
  Offsets run_stride() const { return strides.back(); }
  int64_t numel() const;
};

StridedLoop strided_loop(const ir::Shape& dims, const std::vector<std::vector<int64_t>>& strides,
                         const std::vector<int64_t>& base);

// Row-major strides of `shape`; `broadcast_strides` gives those of an operand read by
// numpy broadcasting into a result of shape `out` (0 on broadcast axes).
std::vector<int64_t> contiguous_strides(const ir::Shape& shape);
std::vector<int64_t> broadcast_strides(const ir::Shape& operand, const ir::Shape& out);

// Calls fn(offsets, length) for pieces of innermost runs covering the whole loop, split
// over threads by element count: offsets[t] is tensor t's position of the piece's first
// element, and element j of the piece is at offsets[t] + j * run_stride()[t].
template <typename Fn>
void for_each_run(const StridedLoop& loop, Fn&& fn) {
  const int64_t total = loop.numel(), run = loop.run();
  const int axes = static_cast<int>(loop.dims.size());
  parallel_chunks(total, 1, [&](int64_t begin, int64_t end) {
    // Position of `begin` as a multi-index (div/mod once per chunk, then an odometer).
    std::vector<int64_t> index(axes, 0);
    int64_t rest = begin;
    for (int d = axes - 1; d >= 0; --d) {
      index[d] = rest % loop.dims[d];
      rest /= loop.dims[d];
    }
    Offsets at = loop.base;
    for (int d = 0; d < axes; ++d) {
      for (int t = 0; t < loop.tensors; ++t) at[t] += index[d] * loop.strides[d][t];
    }
    for (int64_t done = begin; done < end;) {
      const int64_t length = std::min(run - index[axes - 1], end - done);
      fn(at, length);
      done += length;
      // Advance to the start of the next run: back to column 0, then carry outward.
      for (int t = 0; t < loop.tensors; ++t) at[t] -= index[axes - 1] * loop.strides[axes - 1][t];
      index[axes - 1] = 0;
      for (int d = axes - 2; d >= 0; --d) {
        for (int t = 0; t < loop.tensors; ++t) at[t] += loop.strides[d][t];
        if (++index[d] < loop.dims[d]) break;
        for (int t = 0; t < loop.tensors; ++t) at[t] -= index[d] * loop.strides[d][t];
        index[d] = 0;
      }
    }
  });
}

}  // namespace spmd::kernels::cpu
