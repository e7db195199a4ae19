// Internal to the reference backend: the table from op name to its float64 kernel, filled by
// one function per op family (one file each).
#pragma once

#include <span>
#include <string>
#include <unordered_map>

#include "kernels/reference/reference.h"

namespace spmd::kernels::reference {

using Operands = std::span<const RefTensor* const>;
using RefKernel = RefTensor (*)(const ir::Node& node, Operands in);
using RefTable = std::unordered_map<std::string, RefKernel>;

void add_source_ops(RefTable& table);
void add_elementwise_ops(RefTable& table);
void add_matmul_ops(RefTable& table);
void add_reduce_ops(RefTable& table);
void add_softmax_ops(RefTable& table);
void add_normalization_ops(RefTable& table);
void add_shape_ops(RefTable& table);
void add_embedding_ops(RefTable& table);
void add_loss_ops(RefTable& table);
void add_optimizer_ops(RefTable& table);

}  // namespace spmd::kernels::reference
