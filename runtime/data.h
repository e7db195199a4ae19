// Where a model's inputs come from, step by step. The graph says which task it trains
// (meta `task`) and where the data lives (meta `data`: "synthetic" or a file path); a
// DataSource fills the graph's data inputs with the global batch of each step.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "kernels/backend.h"

namespace spmd::runtime {

using Feeds = std::map<std::string, kernels::TensorRef>;  // feed name -> buffer to fill

class DataSource {
 public:
  virtual ~DataSource() = default;
  // Writes the batch of step `step` (from 0) into `feeds`; the same step always gives the
  // same batch for the same seed.
  virtual void fill(int64_t step, const Feeds& feeds) = 0;
  // What one step consumes, for throughput: tokens (language model) or samples.
  virtual int64_t items_per_step() const = 0;
  virtual std::string item_name() const = 0;  // "tokens" or "samples"
  virtual std::string describe() const = 0;
};

// The data source for `g`: a language model reads byte tokens of `data_file` or of the
// built-in synthetic corpus; a classifier draws points of a fixed synthetic task.
// Throws spmd::Error for a missing or too short file, or an unknown task.
std::unique_ptr<DataSource> make_data_source(const ir::Graph& g, uint64_t seed);

// The built-in corpus: `bytes` bytes of simple, deterministic English-like sentences,
// learnable by a small model (short words from small lists, fixed sentence shapes).
std::string synthetic_corpus(size_t bytes);

}  // namespace spmd::runtime
