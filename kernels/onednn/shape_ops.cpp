// Ops that move elements: transpose, reshape, broadcast, slice, pad, concat, plus constant
// and causal_mask. A transpose is oneDNN's reorder; the others (and a transpose oneDNN
// refuses) are a StridedLoop from the result's positions to the operand's, so
// contiguous runs (dh-long rows of an attention transpose, the kept rows of a slice) are
// copied with memcpy and broadcast runs are filled. Elements are moved as raw 4-byte words,
// which serves f32 and i32 alike.
#include <cstring>

#include "ir/ops.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"

namespace spmd::kernels::cpu {
namespace {

using Word = uint32_t;

Word* words(const TensorRef& t) { return static_cast<Word*>(t.data); }

// Copies tensor 1 of `loop` into tensor 0.
void copy_loop(const StridedLoop& loop, Word* dst, const Word* src) {
  const Offsets stride = loop.run_stride();
  for_each_run(loop, [&](const Offsets& at, int64_t n) {
    Word* d = dst + at[0];
    const Word* s = src + at[1];
    if (stride[0] == 1 && stride[1] == 1) {
      std::memcpy(d, s, static_cast<size_t>(n) * sizeof(Word));
    } else if (stride[1] == 0) {
      for (int64_t j = 0; j < n; ++j) d[j * stride[0]] = *s;
    } else {
      for (int64_t j = 0; j < n; ++j) d[j * stride[0]] = s[j * stride[1]];
    }
  });
}

void fill(Word* dst, int64_t n, Word value) {
  parallel_chunks(n, 1,
                  [&](int64_t begin, int64_t end) { std::fill(dst + begin, dst + end, value); });
}

// oneDNN's reorder from the operand, read in its own order, to the result's strides (each
// operand axis written with the stride of the result axis it becomes). Walking the result's
// order instead, an attention transpose of 1 MiB, [8,128,4,64] -> [8,4,128,64], read 256
// bytes of every KiB and crossed a page every 4 pieces, which the prefetcher does not
// follow: 285 us from memory on one thread, against 71 us for a memcpy of it; oneDNN 131.
const Primitive& transpose_reorder(CpuContext& ctx, const ir::TensorType& operand,
                                   const std::vector<int64_t>& perm) {
  Key key("transpose");
  key.add(static_cast<int64_t>(operand.dtype)).add(operand.shape).add(ir::Shape(perm.begin(), perm.end()));
  return ctx.primitive(key, [&] {
    return primitive_or_none([&] {
      const ir::Shape& shape = operand.shape;
      ir::Shape result(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) result[d] = shape[perm[d]];
      const std::vector<int64_t> result_strides = contiguous_strides(result);
      ir::Shape write(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) write[perm[d]] = result_strides[d];
      const auto type =
          operand.dtype == ir::DType::i32 ? dnnl::memory::data_type::s32 : dnnl::memory::data_type::f32;
      const dnnl::memory::dims dims(shape.begin(), shape.end());
      const std::vector<int64_t> read = contiguous_strides(shape);
      const dnnl::memory::desc from(dims, type, dnnl::memory::dims(read.begin(), read.end()));
      const dnnl::memory::desc to(dims, type, dnnl::memory::dims(write.begin(), write.end()));
      const dnnl::reorder::primitive_desc pd(ctx.engine(), from, ctx.engine(), to);
      return make_primitive<dnnl::reorder>(pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
    });
  });
}

// Result axis d reads operand axis perm[d].
void transpose(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
               const TensorRef& out) {
  const std::vector<int64_t>& perm = node.attrs.ints("perm");
  if (!perm.empty() && in[0].numel() > 0) {
    const Primitive& reorder = transpose_reorder(ctx, in[0].type, perm);
    if (!reorder.is_naive()) return ctx.run(reorder, {in[0].data, out.data});
  }
  const std::vector<int64_t> own = contiguous_strides(in[0].type.shape);
  std::vector<int64_t> read(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) read[d] = own[perm[d]];
  const ir::Shape& shape = out.type.shape;
  copy_loop(strided_loop(shape, {contiguous_strides(shape), read}, {0, 0}), words(out),
            words(in[0]));
}

void reshape(CpuContext&, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  if (out.data == in[0].data) return;
  const ir::Shape flat{out.numel()};
  copy_loop(strided_loop(flat, {{1}, {1}}, {0, 0}), words(out), words(in[0]));
}

void broadcast(CpuContext&, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  const ir::Shape& shape = out.type.shape;
  const auto loop = strided_loop(
      shape, {contiguous_strides(shape), broadcast_strides(in[0].type.shape, shape)}, {0, 0});
  copy_loop(loop, words(out), words(in[0]));
}

int64_t offset_at(const std::vector<int64_t>& index, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
  return offset;
}

// The result is the operand's block starting at `begin`.
void slice(CpuContext&, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const std::vector<int64_t> read = contiguous_strides(in[0].type.shape);
  const int64_t base = offset_at(node.attrs.ints("begin"), read);
  const ir::Shape& shape = out.type.shape;
  copy_loop(strided_loop(shape, {contiguous_strides(shape), read}, {0, base}), words(out),
            words(in[0]));
}

// The operand placed at `begin` in zeros.
void pad(CpuContext&, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  fill(words(out), out.numel(), 0);
  const std::vector<int64_t> write = contiguous_strides(out.type.shape);
  const int64_t base = offset_at(node.attrs.ints("begin"), write);
  const ir::Shape& shape = in[0].type.shape;
  copy_loop(strided_loop(shape, {write, contiguous_strides(shape)}, {base, 0}), words(out),
            words(in[0]));
}

void concat(CpuContext&, const ir::Node& node, std::span<const TensorRef> in,
            const TensorRef& out) {
  const int axis = ir::normalize_axis(node.attrs.i("axis"), out.type.rank());
  const std::vector<int64_t> write = contiguous_strides(out.type.shape);
  int64_t offset = 0;
  for (const TensorRef& part : in) {
    const ir::Shape& shape = part.type.shape;
    copy_loop(strided_loop(shape, {write, contiguous_strides(shape)}, {offset * write[axis], 0}),
              words(out), words(part));
    offset += shape[axis];
  }
}

void constant(CpuContext&, const ir::Node& node, std::span<const TensorRef>, const TensorRef& out) {
  const double value = node.attrs.f("value");
  Word word;
  if (out.type.dtype == ir::DType::f32) {
    const auto f = static_cast<float>(value);
    std::memcpy(&word, &f, sizeof word);
  } else {
    const auto i = static_cast<int32_t>(value);
    std::memcpy(&word, &i, sizeof word);
  }
  fill(words(out), out.numel(), word);
}

// x[...,S,S]: entries above the diagonal (column > row) set to `fill`. One matrix row at a
// time; in place when the runtime passes out == x.
void causal_mask(CpuContext&, const ir::Node& node, std::span<const TensorRef> in,
                 const TensorRef& out) {
  const int64_t s = out.type.shape.back();
  const auto value = static_cast<float>(node.attrs.f("fill"));
  const float* x = in[0].f32();
  float* y = out.f32();
  parallel_chunks(out.numel() / s, s, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t keep = r % s + 1;  // columns 0..row
      if (y != x) std::memcpy(y + r * s, x + r * s, static_cast<size_t>(keep) * sizeof(float));
      std::fill(y + r * s + keep, y + (r + 1) * s, value);
    }
  });
}

}  // namespace

void add_shape_kernels(KernelTable& table) {
  table["transpose"] = transpose;
  table["reshape"] = reshape;
  table["broadcast"] = broadcast;
  table["slice"] = slice;
  table["pad"] = pad;
  table["concat"] = concat;
  table["constant"] = constant;
  table["causal_mask"] = causal_mask;
}

}  // namespace spmd::kernels::cpu
