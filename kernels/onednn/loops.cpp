#include "kernels/onednn/loops.h"

#include <cassert>

namespace spmd::kernels::cpu {

int64_t StridedLoop::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

StridedLoop strided_loop(const ir::Shape& dims, const std::vector<std::vector<int64_t>>& strides,
                         const std::vector<int64_t>& base) {
  assert(strides.size() == base.size() && base.size() <= kMaxTensors);
  StridedLoop loop;
  loop.tensors = static_cast<int>(base.size());
  for (int t = 0; t < loop.tensors; ++t) loop.base[t] = base[t];
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;  // contributes nothing to any offset
    Offsets s{};
    for (int t = 0; t < loop.tensors; ++t) s[t] = strides[t][d];
    // Merge into the previous axis when every tensor steps over this whole axis exactly
    // where the previous axis's next step lands.
    bool merges = !loop.dims.empty();
    for (int t = 0; merges && t < loop.tensors; ++t) {
      merges = loop.strides.back()[t] == s[t] * dims[d];
    }
    if (merges) {
      loop.dims.back() *= dims[d];
      loop.strides.back() = s;
    } else {
      loop.dims.push_back(dims[d]);
      loop.strides.push_back(s);
    }
  }
  if (loop.dims.empty()) {  // a single element
    loop.dims.push_back(1);
    loop.strides.push_back(Offsets{});
  }
  return loop;
}

std::vector<int64_t> contiguous_strides(const ir::Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

std::vector<int64_t> broadcast_strides(const ir::Shape& operand, const ir::Shape& out) {
  const std::vector<int64_t> own = contiguous_strides(operand);
  const size_t offset = out.size() - operand.size();
  std::vector<int64_t> strides(out.size(), 0);
  for (size_t d = 0; d < operand.size(); ++d) {
    strides[offset + d] = operand[d] == 1 ? 0 : own[d];
  }
  return strides;
}

}  // namespace spmd::kernels::cpu
