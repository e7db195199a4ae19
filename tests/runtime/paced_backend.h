// Test backends whose kernels take a set time and compute nothing: for the profile's and
// bind's kernel timings (runtime/profile_kernels.h, runtime/program_ops.h).
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "kernels/backend.h"

namespace spmd::runtime::test_backends {

// A backend whose kernels take a set time: `fixed_s`, then `element_s` for each element of
// their result (spinning on the clock), computing nothing. Its first `stalled_runs` runs of
// `stalled_op` (an add by default) of more than one element take `stall_s` more, as kernels
// whose threads wait for a PU that does not run them, or that run in a slow spell.
class Paced : public kernels::Backend {
 public:
  Paced(double fixed_s, double element_s, int stalled_runs = 0, double stall_s = 0, std::string stalled_op = "add")
      : fixed_s_(fixed_s), element_s_(element_s), stalled_runs_(stalled_runs), stall_s_(stall_s),
        stalled_op_(std::move(stalled_op)) {}
  std::string_view name() const override { return "paced"; }
  bool supports(std::string_view, std::span<const ir::TensorType>) const override { return true; }
  void run(const ir::Node& node, std::span<const kernels::TensorRef>, const kernels::TensorRef& out) override {
    double seconds = fixed_s_ + element_s_ * static_cast<double>(out.numel());
    if (node.op == stalled_op_ && out.numel() > 1 && stalled_runs_ > 0) {
      --stalled_runs_;
      seconds += stall_s_;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
    }
  }

 private:
  double fixed_s_, element_s_;
  int stalled_runs_;
  double stall_s_;
  std::string stalled_op_;
};

// Paced, recording each run's op, operands and result.
class Recording : public Paced {
 public:
  struct Run {
    std::string op;
    std::vector<const void*> in;
    const void* out;
  };
  using Paced::Paced;
  void run(const ir::Node& node, std::span<const kernels::TensorRef> in, const kernels::TensorRef& out) override {
    Run r{node.op, {}, out.data};
    for (const kernels::TensorRef& t : in) r.in.push_back(t.data);
    runs.push_back(std::move(r));
    Paced::run(node, in, out);
  }
  std::vector<Run> runs;
};

}  // namespace spmd::runtime::test_backends
