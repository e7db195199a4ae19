// Embedding spmd: two training jobs run from C++ on the ranks of `mpirun`.
//
// 1. A regression model built in code, with names of its own, fed by the program's own
//    data callback: the plan the search picks for the ranks (the default on several ranks).
// 2. The zoo's GPT, split with the Megatron strategy.
//
// Each prints its losses from rank 0; they are those of the single-rank run.
#include <spmd/ir/builder.h>
#include <spmd/runtime/job.h>

#include <cmath>
#include <cstdio>

namespace {

// y = tanh(x W1) W2, squared error against a fixed target function of x.
spmd::ir::Graph regression_model(int64_t batch, int64_t features, int64_t hidden) {
  using namespace spmd::ir;
  Graph g;
  Builder b(g);
  ValueId x = b.input("x", {DType::f32, {batch, features}}, "x");
  ValueId y = b.input("y", {DType::f32, {batch, 1}}, "y");
  ValueId w1 = b.param("encoder.kernel", {features, hidden}, "normal", 0.3);
  ValueId w2 = b.param("decoder.kernel", {hidden, 1}, "normal", 0.3);
  ValueId error = b.sub(b.matmul(b.tanh(b.matmul(x, w1)), w2), y);
  g.outputs.emplace_back("loss", b.reduce_mean(b.mul(error, error), {0, 1}));
  return g;
}

// The program's data: row r of step s depends only on (s, r), so any split of the batch
// over ranks trains on the same global batch.
void fill_regression(int64_t step, const spmd::runtime::Feeds& feeds) {
  const spmd::runtime::FeedSlice& x = feeds.at("x");
  const spmd::runtime::FeedSlice& y = feeds.at("y");
  const int64_t features = x.buffer.numel() / x.rows;
  for (int64_t r = 0; r < x.rows; ++r) {
    double target = 0;
    for (int64_t f = 0; f < features; ++f) {
      double v = std::sin(0.37 * static_cast<double>(step * 131 + (x.row_begin + r) * 17 + f));
      x.buffer.f32()[r * features + f] = static_cast<float>(v);
      target += v * (f % 2 ? 0.5 : -0.25);
    }
    y.buffer.f32()[r] = static_cast<float>(std::tanh(target));
  }
}

void train(const char* title, spmd::runtime::JobDescription description, const spmd::launcher::World& world,
           int64_t steps) {
  spmd::runtime::Job job(std::move(description));  // describe
  job.bind({&world});                                // bind to the ranks and their hardware
  if (world.lead()) std::printf("%s: %s on %d ranks\n", title, job.plan_source().c_str(), job.ranks());
  job.train(steps, [&](const spmd::runtime::StepReport& r) {  // run
    if (world.lead()) std::printf("%s step %lld loss %.6f\n", title, static_cast<long long>(r.step), r.loss);
  });
}

}  // namespace

int main() {
  spmd::launcher::World world;  // joins the MPI job (initialises MPI when run alone)
  try {
    spmd::runtime::JobDescription regression;
    regression.program.graph = regression_model(/*batch=*/12, /*features=*/8, /*hidden=*/16);
    regression.program.optimizer.kind = "sgd";
    regression.program.lr = 0.05;
    regression.data = fill_regression;
    train("regression", std::move(regression), world, 5);

    spmd::runtime::JobDescription gpt;
    gpt.program.model = "gpt:layers=1,d_model=32,heads=2,seq=16,vocab=64,batch=4";
    gpt.partitioning.strategy = "megatron";
    train("gpt", std::move(gpt), world, 3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed: %s\n", e.what());
    world.abort(1);
  }
  return 0;
}
