#include "ir/types.h"

#include "common/error.h"

namespace spmd::ir {

int64_t numel(const Shape& shape) {
  // No tensor of 2^60 elements or more can be held anywhere; past that, products of
  // dimensions would overflow and every size computed from them be garbage.
  constexpr int64_t kLimit = int64_t{1} << 60;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n) || n >= kLimit) {
      throw Error("a tensor of shape " + to_string(shape) + " has 2^60 elements or more");
    }
  }
  return n;
}

int64_t TensorType::numel() const { return ir::numel(shape); }

std::string to_string(DType dtype) { return dtype == DType::f32 ? "f32" : "i32"; }

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string to_string(const TensorType& t) { return to_string(t.dtype) + to_string(t.shape); }

}  // namespace spmd::ir
