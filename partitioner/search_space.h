// The decisions the search makes (Automap, Schaarschmidt et al. 2021; TOAST, Alabed et al.):
// how many devices the model axis takes (the data axis takes the rest), which axis is outer
// (placement puts the last axis on the innermost levels of the topology, see placement.h),
// which dimension classes of the analysis the model axis splits (Megatron's heads and MLP
// hidden classes together, or either alone), and whether parameters, gradients and
// optimizer state are sharded over the data axis (ZeRO-3, Rajbhandari et al. 2020), over an
// inner group of it while the outer part replicates (hybrid sharding, as FSDP's
// HYBRID_SHARD and ZeRO++: a third mesh axis, "replica", outside "data"), or over both axes
// (what the model axis does not split is then sharded over it too), and
// whether activations are recomputed for backward (Chen et al. 2016; ir/rematerialize.h).
// Each decision is a level of the search tree; a full path is a Candidate, which becomes
// tactics.
#pragma once

#include <compare>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/dimensions.h"
#include "partitioner/strategy_parts.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {

enum class ModelSplit { none, megatron, heads, hidden };

struct Candidate {
  int data = 1, model = 1;
  bool model_outer = false;  // the model axis first, so on the outer levels
  ModelSplit split = ModelSplit::none;
  bool zero = false;        // params, gradients and optimizer state sharded over data
  bool zero_model = false;  // ... and over model, where the model axis does not split them
  // With zero: shard over an inner group of the data axis of this many devices, replicate
  // over the rest (the "replica" axis, outside "data"); 0 for the whole data axis.
  int zero_group = 0;
  bool recompute = false;
  std::string describe() const;  // "data=4 x model=16 (heads+mlp), zero, recompute"
  auto operator<=>(const Candidate&) const = default;
};

class SearchSpace {
 public:
  // The space for `g` on `devices` devices. Cost: one dimension analysis.
  SearchSpace(const ir::Graph& g, int devices);
  static constexpr int kLevels = 5;  // model size, axis order, model split, zero, recompute
  // The choices at `level` after the decisions of `partial` on the levels above; never empty.
  std::vector<Candidate> options(const Candidate& partial, int level) const;
  // Every full candidate, in a fixed order.
  std::vector<Candidate> all() const;
  Tactics tactics(const Candidate& c) const;
  int devices() const { return devices_; }
  bool splits(ModelSplit split, int model) const;  // whether the model axis can split those classes

 private:
  MegatronClasses classes(ModelSplit split) const;
  const ir::Graph& graph_;
  DimensionAnalysis analysis_;
  MegatronClasses megatron_;
  int devices_ = 1;
  int64_t batch_ = 1;  // the batch class's size: the data axis must divide it
};

}  // namespace spmd::partitioner
