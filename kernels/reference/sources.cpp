// Sources: only `constant` is computed; input, param and state are fed from outside, so the
// table has no kernel for them.
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

RefTensor constant(const ir::Node& node, Operands) {
  RefTensor out = zeros(node.type);
  double value = node.attrs.f("value");
  if (node.type.dtype == ir::DType::i32) value = static_cast<double>(static_cast<int32_t>(value));
  for (double& x : out.data) x = value;
  return out;
}

}  // namespace

void add_source_ops(RefTable& table) {
  table["constant"] = constant;
}

}  // namespace spmd::kernels::reference
