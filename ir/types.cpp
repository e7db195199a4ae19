#include "ir/types.h"

namespace spmd::ir {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
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
