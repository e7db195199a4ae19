// Sharding rules: how the dimensions of an op's operands and result relate, as factors
// (Shardy's OpShardingRule; TOAST's named dimensions). Every dimension of every operand and
// of the result is a list of factors, major first (most dimensions have one; a reshape that
// splits [b,s,d] -> [b,s,h,dh] maps d to the factors h and dh; a broadcast dimension of size
// 1 has none). A factor is
//   pass        found in the result: sharding it shards the result the same way;
//   reduction   absent from the result: sharding it leaves the result a partial sum;
//   replicated  must not be sharded for this op (softmax's axis, layernorm's features ...).
// Dimension analysis, propagation and SPMD lowering all read these rules, so adding an op is
// adding its rule here and its kernels, nowhere else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace spmd::ir {

enum class FactorKind { pass, reduction, replicated };

struct ShardingRule {
  std::vector<int64_t> factor_size;
  std::vector<FactorKind> factor_kind;
  std::vector<std::vector<std::vector<int>>> operands;  // operands[i][dim] = factor ids
  std::vector<std::vector<int>> result;                 // result[dim] = factor ids

  int add_factor(int64_t size, FactorKind kind) {
    factor_size.push_back(size);
    factor_kind.push_back(kind);
    return static_cast<int>(factor_size.size()) - 1;
  }
};

// The rule of `node` given its operands' types (from the op registry). O(rank).
ShardingRule sharding_rule(const Node& node, std::span<const TensorType> operands);
ShardingRule sharding_rule(const Graph& g, ValueId v);

// The rule in one line, factors named i, j, k ... in the order of their ids: operands, then
// result, each dimension its factors joined by '*' (major first) or 1 when it has none, then
// the factors that do not pass. Matmul reads ([i,k],[k,j])->([i,j]) {k reduction}.
std::string to_string(const ShardingRule& rule);

}  // namespace spmd::ir
