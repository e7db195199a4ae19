// Strided walks (launch.h) built from the IR's shapes.
#include "common/error.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {

std::vector<int64_t> row_major_strides(const ir::Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

StridedIndex broadcast_walk(const ir::Shape& operand, const ir::Shape& result) {
  if (result.size() > static_cast<size_t>(kMaxRank)) {
    throw InternalError("cuda backend: a tensor of rank " + std::to_string(result.size()) + " is above " +
                        std::to_string(kMaxRank));
  }
  StridedIndex walk;
  walk.rank = static_cast<int>(result.size());
  const std::vector<int64_t> strides = row_major_strides(operand);
  const size_t offset = result.size() - operand.size();
  for (size_t d = 0; d < result.size(); ++d) {
    walk.shape[d] = result[d];
    const bool present = d >= offset && operand[d - offset] != 1;
    walk.stride[d] = present ? strides[d - offset] : 0;
  }
  return walk;
}

}  // namespace spmd::kernels::cuda
