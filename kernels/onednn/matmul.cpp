// matmul through dnnl::matmul. Every problem is brought to at most one batch axis: batch axes
// are contiguous in both operands, so they flatten into one; and when b is a rank-2 weight
// shared by every batch and a is not transposed, a's batch folds into M for a single large
// GEMM, which is how the linear layers of a transformer run. Transposed operands are
// described by strides, so nothing is copied.
#include "kernels/onednn/context.h"

namespace spmd::kernels::cpu {
namespace {

// One operand as oneDNN sees it: [batch, rows, cols] stored either row-major or, when
// transposed, as [batch, cols, rows].
struct Operand {
  int64_t batch, rows, cols;
  bool transposed;

  dnnl::memory::desc desc(bool batched) const {
    const int64_t row_stride = transposed ? 1 : cols, col_stride = transposed ? rows : 1;
    if (!batched) return strided_desc({rows, cols}, {row_stride, col_stride});
    return strided_desc({batch, rows, cols}, {rows * cols, row_stride, col_stride});
  }
};

int64_t batch_size(const ir::Shape& shape) {
  int64_t n = 1;
  for (size_t d = 0; d + 2 < shape.size(); ++d) n *= shape[d];
  return n;
}

struct Problem {
  Operand a, b;
  bool batched;
};

Problem describe(const ir::Node& node, const ir::Shape& sa, const ir::Shape& sb) {
  const bool ta = node.attrs.i("transpose_a", 0) != 0;
  const bool tb = node.attrs.i("transpose_b", 0) != 0;
  const size_t ra = sa.size(), rb = sb.size();
  const int64_t m = ta ? sa[ra - 1] : sa[ra - 2];
  const int64_t k = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t n = tb ? sb[rb - 2] : sb[rb - 1];
  Operand a{batch_size(sa), m, k, ta}, b{batch_size(sb), k, n, tb};
  if (!ta && rb == 2 && ra > 2) {  // fold a's batch into M
    a.rows *= a.batch;
    a.batch = 1;
  }
  return {a, b, a.batch > 1 || b.batch > 1};
}

Primitive make_matmul(const CpuContext& ctx, const Problem& p) {
  const int64_t batch = std::max(p.a.batch, p.b.batch);
  const Operand c{batch, p.a.rows, p.b.cols, false};
  const dnnl::matmul::desc desc(p.a.desc(p.batched), p.b.desc(p.batched), c.desc(p.batched));
  const dnnl::matmul::primitive_desc pd(desc, ctx.engine());
  return make_primitive<dnnl::matmul>(pd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
}

void matmul(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
            const TensorRef& out) {
  const Problem p = describe(node, in[0].type.shape, in[1].type.shape);
  Key key("matmul");
  key.add(p.a.batch).add(p.a.rows).add(p.a.cols).add(p.a.transposed);
  key.add(p.b.batch).add(p.b.cols).add(p.b.transposed);
  const Primitive& prim = ctx.primitive(key, [&] { return make_matmul(ctx, p); });
  ctx.run(prim, {in[0].data, in[1].data, out.data});
}

}  // namespace

void add_matmul_kernels(KernelTable& table) { table["matmul"] = matmul; }

}  // namespace spmd::kernels::cpu
