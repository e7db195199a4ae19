// Where a model's inputs come from, step by step. The graph says which task it trains
// (meta `task`) and where the data lives (meta `data`: "synthetic" or a file path); a
// DataSource fills the graph's data inputs with the global batch of each step.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "kernels/backend.h"

namespace spmd::runtime {

// Where a feed's rows go: `buffer` holds rows [row_begin, row_begin + rows) of the global
// batch (the first dimension), all of them for a device that is not split along the batch.
struct FeedSlice {
  kernels::TensorRef buffer;
  int64_t row_begin = 0;
  int64_t rows = 0;
};
using Feeds = std::map<std::string, FeedSlice>;  // feed name -> what to fill

class DataSource {
 public:
  virtual ~DataSource() = default;
  // Writes the rows each feed asks for of the batch of step `step` (from 0): every row is
  // drawn on its own from (seed, step, row), so a device draws only its shard and the
  // same step always gives the same batch for the same seed, however it is split.
  virtual void fill(int64_t step, const Feeds& feeds) = 0;
  // What one step consumes, for throughput: tokens (language model) or samples.
  virtual int64_t items_per_step() const = 0;
  virtual std::string item_name() const = 0;  // "tokens" or "samples"
  virtual std::string describe() const = 0;
  // What the source draws its batches from, as a number equal on every rank given the same
  // data (a corpus's checksum), for bind to compare across ranks; 0 where it cannot be
  // told (a program's own callback). Cost: at most one pass over the data.
  virtual uint64_t fingerprint() const { return 0; }
  // Whether fill may be called beyond the steps trained, to time it (Trainer::feed_seconds):
  // the built-in sources; a program's own data is filled for its steps only.
  virtual bool timeable() const { return true; }
};

// The data source for `g`: a language model reads byte tokens of `data_file` or of the
// built-in synthetic corpus; a classifier draws points of a fixed synthetic task.
// Throws spmd::Error for a missing or too short file, or an unknown task.
std::unique_ptr<DataSource> make_data_source(const ir::Graph& g, uint64_t seed);

// A program's own data: `fill(step, feeds)` writes, for step `step` (from 0), the rows each
// feed asks for (FeedSlice: this rank's rows of the global batch). It must depend only on
// the step and the rows, so that every split of the batch trains on the same data.
using FillFeeds = std::function<void(int64_t step, const Feeds& feeds)>;

// A DataSource calling `fill`; `items_per_step` and `item_name` are for throughput.
std::unique_ptr<DataSource> make_callback_source(FillFeeds fill, int64_t items_per_step,
                                                 std::string item_name = "samples",
                                                 std::string description = "the program's own data");

// A feed of every row of the buffer's tensor.
FeedSlice whole(const kernels::TensorRef& buffer);

// The built-in corpus: `bytes` bytes of simple, deterministic English-like sentences,
// learnable by a small model (short words from small lists, fixed sentence shapes).
std::string synthetic_corpus(size_t bytes);

}  // namespace spmd::runtime
