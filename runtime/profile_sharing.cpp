#include "runtime/profile_sharing.h"

#include <algorithm>
#include <bit>

#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::seconds_since;

constexpr int kRuns = 300, kRunsPerLineUp = 100;

// Seconds per run of a 256^3 matmul over kRuns runs (after one), calling `line_up` after
// every kRunsPerLineUp of them where given. The mean over all, turns held off the PUs
// included: a step of tens of ms meets them too (the median block, which leaves them out,
// gave 89-100% on 4 ranks over 2 cores and left gpt's predictions at 0.8 of measured).
double seconds_per_matmul(kernels::Backend& backend, const std::function<void()>* line_up) {
  SquareMatmul matmul(backend, 256);
  matmul.run();
  const Clock::time_point start = Clock::now();
  for (int i = 1; i <= kRuns; ++i) {
    matmul.run();
    if (line_up && i % kRunsPerLineUp == 0) (*line_up)();
  }
  return seconds_since(start) / kRuns;
}

}  // namespace

double measure_sharing_efficiency(const launcher::World& world, kernels::Backend& backend, double share,
                                  const std::function<void()>& line_up) {
  double alone = 0;
  world.on_lead([&] { alone = seconds_per_matmul(backend, nullptr); }, "timing a kernel alone");
  line_up();
  const double together = seconds_per_matmul(backend, &line_up);
  // A stall (a rank descheduled for long) is not what every step meets: a third at the least.
  const double efficiency = alone > 0 && together > 0 ? std::clamp(alone / (share * together), 1.0 / 3, 1.0) : 1.0;
  return std::bit_cast<double>(world.all_gather(std::bit_cast<uint64_t>(efficiency), "the ranks' turns").front());
}

}  // namespace spmd::runtime
