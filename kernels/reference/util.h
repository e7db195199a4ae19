// Index arithmetic for the reference kernels: row-major strides, multi-indices and numpy
// broadcasting. Plain div/mod is fine here; the reference is not meant to be fast.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/types.h"
#include "kernels/reference/reference.h"

namespace spmd::kernels::reference {

using Index = std::vector<int64_t>;

// A zero-filled tensor of type `type`.
RefTensor zeros(const ir::TensorType& type);
// Row-major strides of `shape` (in elements).
Index strides_of(const ir::Shape& shape);
// The multi-index of the flat position `flat` in `shape`.
Index unravel(int64_t flat, const ir::Shape& shape);
// The flat position of `index` in `shape`.
int64_t ravel(const Index& index, const ir::Shape& shape);
// The flat position in `operand` read for `out_index` of a result of numpy-broadcast shape:
// trailing axes aligned, size-1 axes of the operand read at 0.
int64_t broadcast_source(const Index& out_index, const ir::Shape& operand);
// `axes` made non-negative for `rank`; throws spmd::Error when one is out of range.
std::vector<int> normalized_axes(const std::vector<int64_t>& axes, int rank);
// The shape the result of a reduction over `axes` has with keepdims: reduced axes set to 1.
ir::Shape kept_shape(const ir::Shape& shape, const std::vector<int>& axes);

// Outer x axis x inner decomposition of a tensor around one axis: the axis's elements of one
// (outer, inner) line sit `inner` apart.
struct AxisSplit {
  int64_t outer = 1, axis = 1, inner = 1;
  int64_t at(int64_t o, int64_t k, int64_t i) const { return (o * axis + k) * inner + i; }
};
AxisSplit split_at(const ir::Shape& shape, int axis);

}  // namespace spmd::kernels::reference
