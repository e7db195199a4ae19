// A small regression job the runtime's MPI tests share: a two-layer network built in code
// (params "enc" and "dec") fitting y = tanh(a signed sum of x), fed by the program's own
// callback, each row drawn from (step, row) alone so that any split of the batch over ranks
// sees the same data.
#pragma once

#include <cmath>
#include <cstdint>

#include "ir/builder.h"
#include "runtime/data.h"
#include "runtime/job.h"

namespace spmd::runtime::testing {

inline ir::Graph two_layer(int64_t batch, int64_t features, int64_t hidden, double scale) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.input("x", {ir::DType::f32, {batch, features}}, "x");
  ir::ValueId y = b.input("y", {ir::DType::f32, {batch, 1}}, "y");
  ir::ValueId h = b.tanh(b.matmul(x, b.param("enc", {features, hidden}, "normal", scale)));
  ir::ValueId e = b.sub(b.matmul(h, b.param("dec", {hidden, 1}, "normal", scale)), y);
  g.outputs.emplace_back("loss", b.reduce_mean(b.mul(e, e), {0, 1}));
  return g;
}

// The callback filling `features` columns of "x" and the target "y" for this rank's rows.
inline FillFeeds regression_data(int64_t features) {
  return [features](int64_t step, const Feeds& feeds) {
    const FeedSlice& x = feeds.at("x");
    const FeedSlice& y = feeds.at("y");
    for (int64_t r = 0; r < x.rows; ++r) {
      const int64_t row = x.row_begin + r;
      double t = 0;
      for (int64_t f = 0; f < features; ++f) {
        const double v = std::sin(0.3 * static_cast<double>(step * 97 + row * 13 + f));
        x.buffer.f32()[r * features + f] = static_cast<float>(v);
        t += f % 2 ? v : -0.5 * v;
      }
      y.buffer.f32()[r] = static_cast<float>(std::tanh(t));
    }
  };
}

// The job: the two-layer network trained by AdamW on that data.
inline JobDescription regression_job(int64_t batch, int64_t features, int64_t hidden, double scale) {
  JobDescription d;
  d.program.graph = two_layer(batch, features, hidden, scale);
  d.program.optimizer.kind = "adamw";
  d.data = regression_data(features);
  return d;
}

}  // namespace spmd::runtime::testing
