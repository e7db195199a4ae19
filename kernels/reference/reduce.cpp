// reduce_sum, reduce_mean, reduce_max {axes, keepdims} and reduce_max_grad. The result's flat
// layout is the same with or without keepdims, so every element of x maps to the flat
// position of its index in the kept shape (reduced axes set to 0).
#include <limits>

#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

// For each flat position of `x`, the flat position in the reduced result it belongs to.
std::vector<int64_t> reduced_positions(const ir::Node& node, const ir::Shape& x) {
  const std::vector<int> axes =
      normalized_axes(node.attrs.ints("axes"), static_cast<int>(x.size()));
  const ir::Shape kept = kept_shape(x, axes);
  std::vector<int64_t> positions(static_cast<size_t>(ir::numel(x)));
  for (int64_t i = 0; i < ir::numel(x); ++i) {
    Index index = unravel(i, x);
    for (int a : axes) index[a] = 0;
    positions[i] = ravel(index, kept);
  }
  return positions;
}

RefTensor reduce_sum(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const auto positions = reduced_positions(node, in[0]->type.shape);
  for (size_t i = 0; i < positions.size(); ++i) out.data[positions[i]] += in[0]->data[i];
  return out;
}

RefTensor reduce_mean(const ir::Node& node, Operands in) {
  RefTensor out = reduce_sum(node, in);
  const double count =
      static_cast<double>(in[0]->type.numel()) / static_cast<double>(node.type.numel());
  for (double& x : out.data) x /= count;
  return out;
}

RefTensor reduce_max(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  for (double& x : out.data) x = -std::numeric_limits<double>::infinity();
  const auto positions = reduced_positions(node, in[0]->type.shape);
  for (size_t i = 0; i < positions.size(); ++i) {
    out.data[positions[i]] = std::max(out.data[positions[i]], in[0]->data[i]);
  }
  return out;
}

// x, y = reduce_max(x), dy -> dy where x equals the max, else 0 (every tie gets dy).
RefTensor reduce_max_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const auto positions = reduced_positions(node, in[0]->type.shape);
  for (size_t i = 0; i < positions.size(); ++i) {
    const bool is_max = in[0]->data[i] == in[1]->data[positions[i]];
    out.data[i] = is_max ? in[2]->data[positions[i]] : 0.0;
  }
  return out;
}

}  // namespace

void add_reduce_ops(RefTable& table) {
  table["reduce_sum"] = reduce_sum;
  table["reduce_mean"] = reduce_mean;
  table["reduce_max"] = reduce_max;
  table["reduce_max_grad"] = reduce_max_grad;
}

}  // namespace spmd::kernels::reference
