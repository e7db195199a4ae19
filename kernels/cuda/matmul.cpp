// matmul through cuBLAS. cuBLAS is column-major, so the row-major C = A B is computed as
// C^T = B^T A^T: the operands swap places and keep their own transpose flags. Batches run
// as one strided-batched GEMM; an operand without batch axes (a weight) has stride 0. Math
// mode is plain f32 (no TF32), so results match the CPU's to f32 rounding.
#include "common/error.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

int64_t batch_of(const ir::Shape& shape) {
  int64_t n = 1;
  for (size_t d = 0; d + 2 < shape.size(); ++d) n *= shape[d];
  return n;
}

void matmul(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const bool ta = node.attrs.i("transpose_a", 0) != 0;
  const bool tb = node.attrs.i("transpose_b", 0) != 0;
  const ir::Shape& sa = in[0].type.shape;
  const ir::Shape& sb = in[1].type.shape;
  const size_t ra = sa.size(), rb = sb.size();
  const int64_t m = ta ? sa[ra - 1] : sa[ra - 2];
  const int64_t k = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t n = tb ? sb[rb - 2] : sb[rb - 1];
  int64_t batch = batch_of(out.type.shape), batch_a = batch_of(sa), batch_b = batch_of(sb);
  int64_t rows = m;
  if (!ta && batch_b == 1 && batch_a == batch) {  // a weight shared by every batch: one GEMM
    rows = m * batch;
    batch = batch_a = 1;
  }
  if ((batch_a != batch && batch_a != 1) || (batch_b != batch && batch_b != 1)) {
    throw InternalError("cuda backend: matmul batch axes " + ir::to_string(in[0].type) + " x " +
                        ir::to_string(in[1].type) + " broadcast partially");
  }
  const float one = 1.f, zero = 0.f;
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  check(cublasSgemmStridedBatched(ctx.blas, op_b, op_a, static_cast<int>(n), static_cast<int>(rows),
                                  static_cast<int>(k), &one, in[1].f32(), static_cast<int>(ldb),
                                  batch_b == 1 ? 0 : k * n, in[0].f32(), static_cast<int>(lda),
                                  batch_a == 1 ? 0 : m * k, &zero, out.f32(), static_cast<int>(n), rows * n,
                                  static_cast<int>(batch)),
        "cublasSgemmStridedBatched");
}

}  // namespace

void add_matmul_kernels(KernelTable& table) { table["matmul"] = matmul; }

}  // namespace spmd::kernels::cuda
