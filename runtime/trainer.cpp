#include "runtime/trainer.h"

#include <chrono>
#include <vector>

#include "common/stats.h"

namespace spmd::runtime {

Trainer::Trainer(ir::Graph step_graph, kernels::Backend& backend, uint64_t seed, std::optional<double> lr,
                 collectives::Communicator* world, const launcher::Topology* topology,
                 std::unique_ptr<DataSource> data)
    : executor_(std::move(step_graph), backend, seed, world, topology),
      data_(data ? std::move(data) : make_data_source(executor_.graph(), seed)),
      lr_(lr.value_or(executor_.graph().meta.f("lr", 1e-3))) {
  for (const std::string& feed : executor_.feeds()) feeds_.emplace(feed, executor_.input(feed));
}

double Trainer::feed_seconds() {
  if (!data_->timeable()) return 0;
  std::vector<double> times;
  // Five steps' batches, not one five times: the same draws again ran 22 us where each
  // step's own took 34 (mlp's normal draws reject by their data, and the branches learned it).
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    data_->fill(steps_done_ + i, feeds_);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

StepReport Trainer::step() {
  auto start = std::chrono::steady_clock::now();
  data_->fill(steps_done_, feeds_);
  ++steps_done_;
  if (auto it = feeds_.find("lr"); it != feeds_.end()) *it->second.buffer.f32() = static_cast<float>(lr_);
  if (auto it = feeds_.find("step"); it != feeds_.end()) *it->second.buffer.f32() = static_cast<float>(steps_done_);
  executor_.step();
  StepReport r;
  r.step = steps_done_;
  r.loss = executor_.scalar("loss");
  r.step_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.items_per_s = static_cast<double>(data_->items_per_step()) / r.step_time_s;
  r.peak_bytes = executor_.peak_bytes();
  return r;
}

}  // namespace spmd::runtime
