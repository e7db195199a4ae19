// gather (embedding lookup) and scatter_add (its gradient). Ids are checked up front, since
// an exception cannot leave an OpenMP region. scatter_add is made deterministic by grouping
// positions by row first (a counting sort, stable), so each output row sums its
// contributions in position order and threads own disjoint rows.
#include <cstring>
#include <string>

#include "common/error.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"

namespace spmd::kernels::cpu {
namespace {

void check_ids(const char* op, const TensorRef& ids, int64_t rows) {
  const int32_t* id = ids.i32();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (id[i] < 0 || id[i] >= rows) {
      throw Error(std::string(op) + ": id " + std::to_string(id[i]) + " out of range [0, " +
                  std::to_string(rows) + ") at position " + std::to_string(i));
    }
  }
}

// table[V,D], ids[...] -> [...,D].
void gather(CpuContext&, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  const int64_t rows = in[0].type.shape[0], d = in[0].type.shape[1];
  check_ids("gather", in[1], rows);
  const int32_t* ids = in[1].i32();
  parallel_chunks(in[1].numel(), d, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::memcpy(out.f32() + i * d, in[0].f32() + ids[i] * d,
                  static_cast<size_t>(d) * sizeof(float));
    }
  });
}

// Positions grouped by the row they add to: positions[first[r] .. first[r+1]) in order.
struct RowGroups {
  std::vector<int64_t> first, positions;
};

RowGroups group_by_row(const int32_t* ids, int64_t n, int64_t rows) {
  RowGroups g{std::vector<int64_t>(static_cast<size_t>(rows) + 1, 0),
              std::vector<int64_t>(static_cast<size_t>(n))};
  for (int64_t i = 0; i < n; ++i) ++g.first[ids[i] + 1];
  for (int64_t r = 0; r < rows; ++r) g.first[r + 1] += g.first[r];
  std::vector<int64_t> next(g.first.begin(), g.first.end() - 1);
  for (int64_t i = 0; i < n; ++i) g.positions[next[ids[i]]++] = i;
  return g;
}

// ids[...], dy[...,D] {rows} -> [rows,D]: out[ids[i]] += dy[i].
void scatter_add(CpuContext&, const ir::Node&, std::span<const TensorRef> in,
                 const TensorRef& out) {
  const int64_t rows = out.type.shape[0], d = out.type.shape[1];
  check_ids("scatter_add", in[0], rows);
  const RowGroups g = group_by_row(in[0].i32(), in[0].numel(), rows);
  const float* dy = in[1].f32();
  parallel_chunks(rows, d * (in[0].numel() / rows + 1), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dst = out.f32() + r * d;
      std::fill(dst, dst + d, 0.f);
      for (int64_t k = g.first[r]; k < g.first[r + 1]; ++k) {
        const float* src = dy + g.positions[k] * d;
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
      }
    }
  });
}

}  // namespace

void add_embedding_kernels(KernelTable& table) {
  table["gather"] = gather;
  table["scatter_add"] = scatter_add;
}

}  // namespace spmd::kernels::cpu
