// matmul a[...,M,K] x b[...,K,N] -> [...,M,N]; a transposed operand is stored with its last
// two axes swapped. Batch axes broadcast numpy-style (a rank-2 operand is shared by all).
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

ir::Shape batch_part(const ir::Shape& shape) { return {shape.begin(), shape.end() - 2}; }

// Reads element (row, col) of the logical matrix stored at `base` as rows x cols, or as
// cols x rows when `transposed`.
struct MatrixView {
  const double* base;
  int64_t rows, cols;
  bool transposed;
  double at(int64_t r, int64_t c) const {
    return transposed ? base[c * rows + r] : base[r * cols + c];
  }
};

RefTensor matmul(const ir::Node& node, Operands in) {
  const bool ta = node.attrs.i("transpose_a", 0) != 0;
  const bool tb = node.attrs.i("transpose_b", 0) != 0;
  const ir::Shape& sa = in[0]->type.shape;
  const ir::Shape& sb = in[1]->type.shape;
  const int ra = static_cast<int>(sa.size()), rb = static_cast<int>(sb.size());
  const int64_t m = ta ? sa[ra - 1] : sa[ra - 2];
  const int64_t k = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t n = tb ? sb[rb - 2] : sb[rb - 1];

  RefTensor out = zeros(node.type);
  const ir::Shape batch = batch_part(node.type.shape);
  const ir::Shape batch_a = batch_part(sa), batch_b = batch_part(sb);
  for (int64_t bi = 0; bi < ir::numel(batch); ++bi) {
    const Index index = unravel(bi, batch);
    const MatrixView a{in[0]->data.data() + broadcast_source(index, batch_a) * m * k, m, k, ta};
    const MatrixView b{in[1]->data.data() + broadcast_source(index, batch_b) * k * n, k, n, tb};
    double* c = out.data.data() + bi * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) sum += a.at(i, p) * b.at(p, j);
        c[i * n + j] = sum;
      }
    }
  }
  return out;
}

}  // namespace

void add_matmul_ops(RefTable& table) { table["matmul"] = matmul; }

}  // namespace spmd::kernels::reference
