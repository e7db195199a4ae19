// Element types and static tensor types of the IR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spmd::ir {

// f32 for everything numeric, i32 for token ids and class labels.
enum class DType { f32, i32 };

// Static shape, row-major; a scalar has rank 0.
using Shape = std::vector<int64_t>;

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * 4; }  // both dtypes are 4 bytes
  bool operator==(const TensorType&) const = default;
};

std::string to_string(DType dtype);
std::string to_string(const Shape& shape);    // "[8,128]"
std::string to_string(const TensorType& t);   // "f32[8,128]"
int64_t numel(const Shape& shape);

}  // namespace spmd::ir
