#include "kernels/reference/util.h"

#include "ir/ops.h"

namespace spmd::kernels::reference {

RefTensor zeros(const ir::TensorType& type) {
  return RefTensor{type, std::vector<double>(static_cast<size_t>(type.numel()), 0.0)};
}

Index strides_of(const ir::Shape& shape) {
  Index strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

Index unravel(int64_t flat, const ir::Shape& shape) {
  Index index(shape.size(), 0);
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t ravel(const Index& index, const ir::Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

int64_t broadcast_source(const Index& out_index, const ir::Shape& operand) {
  const size_t offset = out_index.size() - operand.size();
  int64_t flat = 0;
  for (size_t d = 0; d < operand.size(); ++d) {
    const int64_t i = operand[d] == 1 ? 0 : out_index[offset + d];
    flat = flat * operand[d] + i;
  }
  return flat;
}

std::vector<int> normalized_axes(const std::vector<int64_t>& axes, int rank) {
  std::vector<int> result;
  for (int64_t a : axes) result.push_back(ir::normalize_axis(a, rank));
  return result;
}

ir::Shape kept_shape(const ir::Shape& shape, const std::vector<int>& axes) {
  ir::Shape kept = shape;
  for (int a : axes) kept[a] = 1;
  return kept;
}

AxisSplit split_at(const ir::Shape& shape, int axis) {
  AxisSplit s;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d < axis) s.outer *= shape[d];
    if (d == axis) s.axis = shape[d];
    if (d > axis) s.inner *= shape[d];
  }
  return s;
}

}  // namespace spmd::kernels::reference
