// gather (embedding lookup) and its gradient scatter_add. Ids are i32 values held as exact
// doubles; an id outside the table is the user's error.
#include <string>

#include "common/error.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

int64_t checked_id(const char* op, double id, int64_t rows, int64_t position) {
  const auto row = static_cast<int64_t>(id);
  if (row < 0 || row >= rows) {
    throw Error(std::string(op) + ": id " + std::to_string(row) + " out of range [0, " +
                std::to_string(rows) + ") at position " + std::to_string(position));
  }
  return row;
}

// table[V,D], ids[...] -> [...,D].
RefTensor gather(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t rows = in[0]->type.shape[0], d = in[0]->type.shape[1];
  for (int64_t i = 0; i < in[1]->type.numel(); ++i) {
    const int64_t row = checked_id("gather", in[1]->data[i], rows, i);
    for (int64_t j = 0; j < d; ++j) out.data[i * d + j] = in[0]->data[row * d + j];
  }
  return out;
}

// ids[...], dy[...,D] {rows} -> [rows,D] with out[ids[i]] += dy[i].
RefTensor scatter_add(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t rows = node.type.shape[0], d = node.type.shape[1];
  for (int64_t i = 0; i < in[0]->type.numel(); ++i) {
    const int64_t row = checked_id("scatter_add", in[0]->data[i], rows, i);
    for (int64_t j = 0; j < d; ++j) out.data[row * d + j] += in[1]->data[i * d + j];
  }
  return out;
}

}  // namespace

void add_embedding_ops(RefTable& table) {
  table["gather"] = gather;
  table["scatter_add"] = scatter_add;
}

}  // namespace spmd::kernels::reference
