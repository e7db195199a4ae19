// Sources: only `constant` is computed; input, param and state are fed from outside.
#include "common/error.h"
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

RefTensor fed_source(const ir::Node& node, Operands) {
  throw Error("reference backend: '" + node.op + "' is a source fed from outside" +
              (node.name.empty() ? "" : " (%" + node.name + ")") + ", not computed");
}

}  // namespace

void add_source_ops(RefTable& table) {
  table["constant"] = constant;
  table["input"] = fed_source;
  table["param"] = fed_source;
  table["state"] = fed_source;
}

}  // namespace spmd::kernels::reference
