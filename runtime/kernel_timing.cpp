#include "runtime/kernel_timing.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <vector>

namespace spmd::runtime {

using profile_text::Clock;
using profile_text::seconds_since;

std::vector<double> time_in_rounds(const std::vector<std::function<void()>>& calls) {
  std::vector<int> batch(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i]();
    const auto first = Clock::now();
    calls[i]();
    batch[i] = static_cast<int>(std::clamp(kBriefRunS / std::max(seconds_since(first), 1e-9), 1.0, 64.0));
  }
  std::vector<std::vector<double>> runs(calls.size());
  for (int round = 0; round < 7; ++round) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls.size() > 1) calls[i]();
      const auto start = Clock::now();
      for (int c = 0; c < batch[i]; ++c) calls[i]();
      runs[i].push_back(seconds_since(start) / batch[i]);
    }
  }
  std::vector<double> seconds;
  for (std::vector<double>& r : runs) {
    std::nth_element(r.begin(), r.begin() + 3, r.end());
    seconds.push_back(r[3]);
  }
  return seconds;
}

std::vector<double> sustained_in_rounds(const std::vector<std::function<void()>>& calls, double at_least_s,
                                        const std::function<void()>& before) {
  std::vector<std::vector<double>> per_run(calls.size());
  for (int round = 0; round < kSustainedStretches; ++round) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (before) before();
      calls[i]();
      const auto start = Clock::now();
      int runs = 0;
      do {
        calls[i]();
        ++runs;
      } while (seconds_since(start) < at_least_s / kSustainedStretches);
      per_run[i].push_back(seconds_since(start) / runs);
    }
  }
  std::vector<double> seconds;
  for (std::vector<double>& r : per_run) {
    std::sort(r.begin(), r.end());
    seconds.push_back(std::accumulate(r.begin(), r.end() - 1, 0.0) / (kSustainedStretches - 1));
  }
  return seconds;
}

double time_kernel(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types,
                   Operands operands, double at_least_s, ColdMemory* shared) {
  KernelRuns runs(backend, node, types, operands, shared);
  return sustained(runs, at_least_s);
}

}  // namespace spmd::runtime
