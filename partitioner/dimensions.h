// Dimension analysis (TOAST): the (value, dimension) pairs that the ops' factors join must
// be sharded alike, so they fall into classes (union-find over every op's rule); sharding a
// class along a mesh axis is one decision of the search space. A conflict is where that
// cannot hold: a value with two dimensions in one class (an axis cannot split both), or an
// op that needs a class's dimension whole (softmax's axis, layernorm's features); it is
// where a redistribution must be paid if the class is sharded.
//
// Each class is named by its role, read from the program's structure and never from value
// names or hyper-parameters, so a model written elsewhere is named as the zoo's is:
//   batch      the leading dimension of the data inputs
//   sequence   the positions of the token ids an embedding gathers
//   features   the last dimension of a data input that a matmul contracts
//   d_model    the residual stream's width: the last dimension of an add of a value and
//              something computed from it (x + f(x), He et al. 2016)
//   heads      the dimension a reshape [B,S,D] -> [B,S,H,dh] splits out of D for the
//   head_dim   attention's batched matmuls (H and dh; Vaswani et al. 2017)
//   d_ff       the hidden width of an MLP: a matmul by a weight whose output goes through an
//   hidden     elementwise nonlinearity into another weight's contraction; d_ff where the
//              MLP's output goes back into the residual stream (a transformer block), hidden
//              in a plain MLP
//   vocab      the rows of an embedding table, and the logits' last dimension where the
//              logits are over those rows
//   classes    the logits' last dimension otherwise
// Classes alike but for their layer share a role and are numbered: d_ff, d_ff#2, ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/propagation.h"

namespace spmd::partitioner {

struct DimensionClass {
  std::string name;     // the role, numbered when several classes share it (d_ff#2), or dimN
  std::string role;     // batch, sequence, d_model, d_ff, heads, ... or empty when none
  int64_t size = 0;     // the smallest member's: a reshaped dimension holds it as a factor
  std::vector<DimRef> members;
};

struct DimensionConflict {
  int class_id;
  ir::ValueId at;       // the value or op where it arises
  std::string what;
};

struct DimensionAnalysis {
  std::vector<DimensionClass> classes;      // largest first
  std::vector<std::vector<int>> class_of;   // [value][dim] -> class index, -1 for size-1 dims
  std::vector<DimensionConflict> conflicts;
  // The MLPs (Megatron-LM's column- then row-parallel pairs): each chain of dense layers
  // joined by nonlinearities, as its hidden classes in order (one per transformer block's
  // MLP; one per hidden layer of a plain MLP).
  std::vector<std::vector<int>> mlp_chains;
  int class_named(const std::string& name) const;  // -1 when none
  std::vector<int> classes_with_role(const std::string& role) const;  // in class order
};

// Cost: O(nodes x rank) with near-constant union-find; allocates no tensor.
DimensionAnalysis analyze_dimensions(const ir::Graph& g);

}  // namespace spmd::partitioner
