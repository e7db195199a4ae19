// softmax and log_softmax through oneDNN's forward primitives, their gradients through the
// backward ones (which compute exactly y*(dy - sum(dy*y)) and dy - exp(y)*sum(dy) from the
// result y). Tensors are viewed as [outer, axis, inner], or [outer, axis] when the axis is
// last, so one primitive serves every shape with the same split.
#include "kernels/onednn/softmax.h"

#include "ir/ops.h"
#include "kernels/onednn/context.h"

namespace spmd::kernels::cpu {
namespace {

struct AxisView {
  ir::Shape dims;
  int axis;
};

AxisView view_of(const ir::Node& node, const ir::Shape& shape) {
  const int axis = ir::normalize_axis(node.attrs.i("axis"), static_cast<int>(shape.size()));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  if (inner == 1) return {{outer, shape[axis]}, 1};
  return {{outer, shape[axis], inner}, 1};
}

template <typename Forward>
typename Forward::primitive_desc forward_pd(const CpuContext& ctx, const AxisView& v,
                                            dnnl::prop_kind prop) {
  const typename Forward::desc desc(prop, plain_desc(v.dims), v.axis);
  return {desc, ctx.engine()};
}

template <typename Forward>
void run_forward(CpuContext& ctx, const char* op, const AxisView& v, const void* x, void* y) {
  const Primitive& prim = ctx.primitive(Key(op).add(v.dims), [&] {
    const auto pd = forward_pd<Forward>(ctx, v, dnnl::prop_kind::forward_inference);
    return make_primitive<Forward>(pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
  });
  ctx.run(prim, {x, y});
}

template <typename Forward>
void forward(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
             const TensorRef& out) {
  run_forward<Forward>(ctx, node.op.c_str(), view_of(node, out.type.shape), in[0].data, out.data);
}

// y, dy -> dx.
template <typename Forward, typename Backward>
void backward(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
              const TensorRef& out) {
  const AxisView v = view_of(node, out.type.shape);
  const Primitive& prim = ctx.primitive(Key(node.op).add(v.dims), [&] {
    const auto hint = forward_pd<Forward>(ctx, v, dnnl::prop_kind::forward_training);
    const typename Backward::desc desc(plain_desc(v.dims), plain_desc(v.dims), v.axis);
    const typename Backward::primitive_desc pd(desc, ctx.engine(), hint);
    return make_primitive<Backward>(pd, {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC});
  });
  ctx.run(prim, {in[0].data, in[1].data, out.data});
}

}  // namespace

void softmax_rows(CpuContext& ctx, bool log, const float* x, float* y, int64_t rows, int64_t cols) {
  const AxisView v{{rows, cols}, 1};
  if (log) return run_forward<dnnl::logsoftmax_forward>(ctx, "log_softmax", v, x, y);
  run_forward<dnnl::softmax_forward>(ctx, "softmax", v, x, y);
}

void add_softmax_kernels(KernelTable& table) {
  table["softmax"] = forward<dnnl::softmax_forward>;
  table["log_softmax"] = forward<dnnl::logsoftmax_forward>;
  table["softmax_grad"] = backward<dnnl::softmax_forward, dnnl::softmax_backward>;
  table["log_softmax_grad"] = backward<dnnl::logsoftmax_forward, dnnl::logsoftmax_backward>;
}

}  // namespace spmd::kernels::cpu
