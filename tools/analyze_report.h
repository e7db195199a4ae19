// What `spmd analyze` prints: the dimension classes of a training step (which dimensions must
// be sharded alike) and the conflicts where sharding a class needs a redistribution.
#pragma once

#include <string>

#include "ir/graph.h"
#include "partitioner/dimensions.h"

namespace spmd::tools {

// "%wte[1]": dimension `dim` of value `v`.
std::string member_text(const ir::Graph& g, const partitioner::DimRef& m);

// Up to `count` members of class `c`, named values (params, inputs) first, in graph order.
std::string example_members(const ir::Graph& g, const partitioner::DimensionClass& c, size_t count);

struct AnalyzeReport {
  size_t max_classes = 30;    // rows of classes; the rest are summed up in one line
  bool group_layers = true;   // one row for the classes alike but for their layer
  size_t max_examples = 3;    // conflicts shown per class
};

// The classes (largest first) and the conflicts grouped by class.
std::string analyze_report(const AnalyzeReport& how, const ir::Graph& g, const partitioner::DimensionAnalysis& a);

// "850 us", "12.3 ms", "4.56 s".
std::string duration_text(double seconds);

}  // namespace spmd::tools
