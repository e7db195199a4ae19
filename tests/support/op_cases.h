// Example uses of every op of the registry: operand types, how to draw their values, and
// attributes. Shared by the kernels' parity test and the sharding rules' goldens, so that an
// op added to the registry without examples here fails both.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ir/attrs.h"
#include "ir/graph.h"

namespace spmd::testing {

// An operand's type and the values it takes: f32 uniform in [lo, hi] (whole numbers only
// when `integral`, so that ties and equalities occur), or i32 uniform in [0, bound).
struct OperandSpec {
  ir::TensorType type;
  double lo = -1, hi = 1;
  bool integral = false;
  int32_t bound = 0;
};

struct OpCase {
  std::vector<OperandSpec> operands;
  ir::Attrs attrs{};
  std::optional<ir::TensorType> declared{};  // for ops whose result type is declared
};

// The examples of `op`: small shapes of odd sizes, covering its variants (transposes,
// broadcasting, keepdims ...). Empty for an op that has none (a test must then fail).
std::vector<OpCase> op_cases(std::string_view op);

// The node of one example, its type inferred by the op's shape rule; operand i is value i.
ir::Node case_node(std::string_view op, const OpCase& c);

}  // namespace spmd::testing
