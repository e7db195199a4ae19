// Ops that move elements without arithmetic: transpose, reshape, broadcast, slice, pad,
// concat. Each walks the result (or the operand) index by index.
#include "ir/ops.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

// Result axis d is operand axis perm[d].
RefTensor transpose(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const std::vector<int64_t>& perm = node.attrs.ints("perm");
  Index src(perm.size());
  for (int64_t i = 0; i < node.type.numel(); ++i) {
    const Index index = unravel(i, node.type.shape);
    for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = index[d];
    out.data[i] = in[0]->data[ravel(src, in[0]->type.shape)];
  }
  return out;
}

RefTensor reshape(const ir::Node& node, Operands in) { return {node.type, in[0]->data}; }

RefTensor broadcast(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  for (int64_t i = 0; i < node.type.numel(); ++i) {
    out.data[i] = in[0]->data[broadcast_source(unravel(i, node.type.shape), in[0]->type.shape)];
  }
  return out;
}

// The result is x[begin : begin + result shape] (the result type fixes the end).
RefTensor slice(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const std::vector<int64_t>& begin = node.attrs.ints("begin");
  for (int64_t i = 0; i < node.type.numel(); ++i) {
    Index index = unravel(i, node.type.shape);
    for (size_t d = 0; d < index.size(); ++d) index[d] += begin[d];
    out.data[i] = in[0]->data[ravel(index, in[0]->type.shape)];
  }
  return out;
}

// x placed at `begin` in zeros of the declared type.
RefTensor pad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const std::vector<int64_t>& begin = node.attrs.ints("begin");
  for (int64_t i = 0; i < in[0]->type.numel(); ++i) {
    Index index = unravel(i, in[0]->type.shape);
    for (size_t d = 0; d < index.size(); ++d) index[d] += begin[d];
    out.data[ravel(index, node.type.shape)] = in[0]->data[i];
  }
  return out;
}

RefTensor concat(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int axis = ir::normalize_axis(node.attrs.i("axis"), node.type.rank());
  int64_t offset = 0;
  for (const RefTensor* part : in) {
    for (int64_t i = 0; i < part->type.numel(); ++i) {
      Index index = unravel(i, part->type.shape);
      index[axis] += offset;
      out.data[ravel(index, node.type.shape)] = part->data[i];
    }
    offset += part->type.shape[axis];
  }
  return out;
}

}  // namespace

void add_shape_ops(RefTable& table) {
  table["transpose"] = transpose;
  table["reshape"] = reshape;
  table["broadcast"] = broadcast;
  table["slice"] = slice;
  table["pad"] = pad;
  table["concat"] = concat;
}

}  // namespace spmd::kernels::reference
