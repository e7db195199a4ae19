// Unary elementwise ops through dnnl::eltwise_forward over the flat buffer, gelu's and
// relu's gradients through dnnl::eltwise_backward (branch-free: a plain select loop on
// random signs mispredicts half its branches).
#include "kernels/onednn/context.h"

namespace spmd::kernels::cpu {
namespace {

using dnnl::algorithm;

// y = eltwise(x) with oneDNN's (alpha, beta) parameters.
struct Eltwise {
  algorithm alg;
  float alpha, beta;
};

// Each op's (algorithm, alpha, beta), bound to its kernel when the table is filled.
constexpr Eltwise kNeg{algorithm::eltwise_linear, -1.f, 0.f};  // -1*x + 0
constexpr Eltwise kExp{algorithm::eltwise_exp, 0.f, 0.f};
constexpr Eltwise kLog{algorithm::eltwise_log, 0.f, 0.f};
constexpr Eltwise kSqrt{algorithm::eltwise_sqrt, 0.f, 0.f};
constexpr Eltwise kRsqrt{algorithm::eltwise_pow, 1.f, -0.5f};  // 1 * x^-0.5
constexpr Eltwise kTanh{algorithm::eltwise_tanh, 0.f, 0.f};
constexpr Eltwise kRelu{algorithm::eltwise_relu, 0.f, 0.f};
constexpr Eltwise kGelu{algorithm::eltwise_gelu_tanh, 0.f, 0.f};

dnnl::eltwise_forward::primitive_desc forward_pd(const CpuContext& ctx, const Eltwise& e, int64_t n,
                                                 dnnl::prop_kind prop) {
  const dnnl::eltwise_forward::desc desc(prop, e.alg, plain_desc({n}), e.alpha, e.beta);
  return {desc, ctx.engine()};
}

template <const Eltwise& kOp>
void unary(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
           const TensorRef& out) {
  const int64_t n = out.numel();
  const Primitive& prim = ctx.primitive(Key(node.op).add(n), [&] {
    const auto pd = forward_pd(ctx, kOp, n, dnnl::prop_kind::forward_inference);
    return make_primitive<dnnl::eltwise_forward>(pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
  });
  ctx.run(prim, {in[0].data, out.data});
}

// x, dy -> dy * f'(x), for f = kOp's algorithm (its gradient from the forward's source).
template <const Eltwise& kOp>
void grad(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const int64_t n = out.numel();
  const Primitive& prim = ctx.primitive(Key(node.op).add(n), [&] {
    const auto hint = forward_pd(ctx, kOp, n, dnnl::prop_kind::forward_training);
    const dnnl::eltwise_backward::desc desc(kOp.alg, plain_desc({n}), plain_desc({n}), kOp.alpha, kOp.beta);
    const dnnl::eltwise_backward::primitive_desc pd(desc, ctx.engine(), hint);
    return make_primitive<dnnl::eltwise_backward>(
        pd, {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC});
  });
  ctx.run(prim, {in[0].data, in[1].data, out.data});
}

}  // namespace

void add_eltwise_kernels(KernelTable& table) {
  table["neg"] = unary<kNeg>;
  table["exp"] = unary<kExp>;
  table["log"] = unary<kLog>;
  table["sqrt"] = unary<kSqrt>;
  table["rsqrt"] = unary<kRsqrt>;
  table["tanh"] = unary<kTanh>;
  table["relu"] = unary<kRelu>;
  table["gelu"] = unary<kGelu>;
  table["gelu_grad"] = grad<kGelu>;
  table["relu_grad"] = grad<kRelu>;
}

}  // namespace spmd::kernels::cpu
