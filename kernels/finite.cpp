// The host default of Backend::all_finite: a scan of the bits, which the compiler vectorizes.
#include <algorithm>
#include <bit>
#include <cstdint>

#include "kernels/backend.h"

namespace spmd::kernels {

bool Backend::all_finite(std::span<const TensorRef> tensors) {
  // IEEE 754 binary32: an exponent of all ones is an infinity or a NaN. Tested a block at a
  // time without a branch per element, so that the loop vectorizes and still stops early.
  constexpr uint32_t kExponent = 0x7f800000u;
  constexpr int64_t kBlock = 4096;
  for (const TensorRef& t : tensors) {
    if (t.type.dtype != ir::DType::f32) continue;
    const float* x = t.f32();
    const int64_t n = t.numel();
    for (int64_t begin = 0; begin < n; begin += kBlock) {
      const int64_t end = std::min(n, begin + kBlock);
      uint32_t bad = 0;
      for (int64_t i = begin; i < end; ++i) bad |= (std::bit_cast<uint32_t>(x[i]) & kExponent) == kExponent;
      if (bad) return false;
    }
  }
  return true;
}

}  // namespace spmd::kernels
