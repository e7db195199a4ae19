// reduce_sum, reduce_mean, reduce_max through dnnl::reduction, or, where oneDNN has only its
// naive implementation, through loops over the input viewed as [outer, reduced, inner]
// runs. reduce_max_grad is a broadcast select. Every output is accumulated serially in a
// fixed order, so results are deterministic.
#include <algorithm>
#include <limits>
#include <set>
#include <type_traits>

#include "ir/ops.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"
#include "kernels/onednn/rowsum.h"

namespace spmd::kernels::cpu {
namespace {

std::set<int> reduced_axes(const ir::Node& node, int rank) {
  std::set<int> axes;
  for (int64_t a : node.attrs.ints("axes")) axes.insert(ir::normalize_axis(a, rank));
  return axes;
}

// x's shape with the reduced axes set to 1: the layout of the result, keepdims or not.
ir::Shape kept_shape(const ir::Shape& x, const std::set<int>& axes) {
  ir::Shape kept = x;
  for (int a : axes) kept[a] = 1;
  return kept;
}

// The input as alternating groups of merged kept and reduced axes, size-1 axes dropped.
struct Groups {
  std::vector<int64_t> sizes;
  std::vector<bool> reduced;
};

Groups group_axes(const ir::Shape& x, const std::set<int>& axes) {
  Groups g;
  for (int d = 0; d < static_cast<int>(x.size()); ++d) {
    if (x[d] == 1) continue;
    const bool reduced = axes.count(d) != 0;
    if (!g.sizes.empty() && g.reduced.back() == reduced) {
      g.sizes.back() *= x[d];
    } else {
      g.sizes.push_back(x[d]);
      g.reduced.push_back(reduced);
    }
  }
  return g;
}

struct Sum {
  static float init() { return 0.f; }
  static float combine(float a, float b) { return a + b; }
};
struct Max {
  static float init() { return -std::numeric_limits<float>::infinity(); }
  static float combine(float a, float b) { return std::max(a, b); }
};

// Rows [o0, o1) of the result of x viewed as [outer, reduce, inner], columns [i0, i1):
// each output accumulates its reduced elements in order.
template <typename R>
void reduce_block(const float* x, float* out, int64_t o0, int64_t o1, int64_t reduce,
                  int64_t inner, int64_t i0, int64_t i1) {
  for (int64_t o = o0; o < o1; ++o) {
    float* dst = out + o * inner;
    if (inner == 1 && std::is_same_v<R, Sum>) {  // a contiguous row: vector lanes
      const float* row = x + o * reduce;
      *dst = lane_sum(reduce, [&](int64_t j) { return row[j]; });
      continue;
    }
    for (int64_t i = i0; i < i1; ++i) dst[i] = R::init();
    for (int64_t r = 0; r < reduce; ++r) {
      const float* src = x + (o * reduce + r) * inner;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) dst[i] = R::combine(dst[i], src[i]);
    }
  }
}

// x viewed as [outer, reduce, inner] -> out[outer, inner]. Threads own blocks of outputs:
// blocks of rows when there are more rows than columns, else blocks of columns.
template <typename R>
void reduce_3d(const float* x, float* out, int64_t outer, int64_t reduce, int64_t inner) {
  if (outer >= inner) {
    parallel_chunks(outer, reduce * inner, [&](int64_t o0, int64_t o1) {
      reduce_block<R>(x, out, o0, o1, reduce, inner, 0, inner);
    });
  } else {
    parallel_chunks(inner, outer * reduce, [&](int64_t i0, int64_t i1) {
      reduce_block<R>(x, out, 0, outer, reduce, inner, i0, i1);
    });
  }
}

// Offset in a tensor of strides `strides` of flat position `flat` of a loop over `dims`.
int64_t offset_of(int64_t flat, const ir::Shape& dims, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    offset += flat % dims[d] * strides[d];
    flat /= dims[d];
  }
  return offset;
}

// Any other pattern (several reduced groups): each output walks its reduced elements. Rare,
// so index math per element is acceptable here.
template <typename R>
void reduce_general(const float* x, float* out, const ir::Shape& shape, const std::set<int>& axes) {
  const std::vector<int64_t> x_strides = contiguous_strides(shape);
  ir::Shape reduced_dims, kept_dims;
  std::vector<int64_t> reduced_strides, kept_strides;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    (axes.count(d) ? reduced_dims : kept_dims).push_back(shape[d]);
    (axes.count(d) ? reduced_strides : kept_strides).push_back(x_strides[d]);
  }
  const int64_t outputs = ir::numel(kept_dims), count = ir::numel(reduced_dims);
  parallel_chunks(outputs, count, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* base = x + offset_of(o, kept_dims, kept_strides);
      float acc = R::init();
      for (int64_t e = 0; e < count; ++e) {
        acc = R::combine(acc, base[offset_of(e, reduced_dims, reduced_strides)]);
      }
      out[o] = acc;
    }
  });
}

template <typename R>
void reduce_loop(const float* x, float* out, const ir::Shape& shape, const std::set<int>& axes) {
  const Groups g = group_axes(shape, axes);
  // With at most one reduced group the input reads as [outer, reduce, inner].
  int64_t outer = 1, reduce = 1, inner = 1;
  int reduced_groups = 0;
  for (size_t i = 0; i < g.sizes.size(); ++i) {
    if (g.reduced[i]) {
      reduce = g.sizes[i];
      ++reduced_groups;
    } else {
      (reduced_groups == 0 ? outer : inner) *= g.sizes[i];
    }
  }
  if (reduced_groups <= 1) return reduce_3d<R>(x, out, outer, reduce, inner);
  reduce_general<R>(x, out, shape, axes);
}

// One op: oneDNN's algorithm, else the loop of `R` (Sum or Max), divided by the count for a
// mean.
template <dnnl::algorithm kAlg, typename R, bool kMean>
void reduce(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
            const TensorRef& out) {
  const ir::Shape& shape = in[0].type.shape;
  const std::set<int> axes = reduced_axes(node, static_cast<int>(shape.size()));
  const ir::Shape kept = kept_shape(shape, axes);
  if (!shape.empty()) {
    const Primitive& prim = ctx.primitive(Key(node.op).add(shape).add(kept), [&] {
      return primitive_or_none([&] {
        const dnnl::reduction::desc desc(kAlg, plain_desc(shape), plain_desc(kept), 0.f, 0.f);
        const dnnl::reduction::primitive_desc pd(desc, ctx.engine());
        return make_primitive<dnnl::reduction>(pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
      });
    });
    if (!prim.is_naive()) return ctx.run(prim, {in[0].data, out.data});
  }
  reduce_loop<R>(in[0].f32(), out.f32(), shape, axes);
  if constexpr (kMean) {
    const float inv_count = static_cast<float>(out.numel()) / static_cast<float>(in[0].numel());
    for (int64_t i = 0; i < out.numel(); ++i) out.f32()[i] *= inv_count;
  }
}

// x, y = reduce_max(x), dy -> dy where x equals its max, else 0.
void reduce_max_grad(CpuContext&, const ir::Node& node, std::span<const TensorRef> in,
                     const TensorRef& out) {
  const ir::Shape& shape = in[0].type.shape;
  const ir::Shape kept = kept_shape(shape, reduced_axes(node, static_cast<int>(shape.size())));
  const std::vector<int64_t> own = contiguous_strides(shape);
  const std::vector<int64_t> of_max = broadcast_strides(kept, shape);
  const StridedLoop loop = strided_loop(shape, {own, own, of_max, of_max}, {0, 0, 0, 0});
  const Offsets stride = loop.run_stride();
  for_each_run(loop, [&](const Offsets& at, int64_t n) {
    float* dx = out.f32() + at[0];
    const float* x = in[0].f32() + at[1];
    const float* y = in[1].f32() + at[2];
    const float* dy = in[2].f32() + at[3];
    for (int64_t j = 0; j < n; ++j) {
      dx[j] = x[j] == y[j * stride[2]] ? dy[j * stride[3]] : 0.f;
    }
  });
}

}  // namespace

void add_reduce_kernels(KernelTable& table) {
  using dnnl::algorithm;
  table["reduce_sum"] = reduce<algorithm::reduction_sum, Sum, false>;
  table["reduce_mean"] = reduce<algorithm::reduction_mean, Sum, true>;
  table["reduce_max"] = reduce<algorithm::reduction_max, Max, false>;
  table["reduce_max_grad"] = reduce_max_grad;
}

}  // namespace spmd::kernels::cpu
