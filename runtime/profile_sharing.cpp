#include "runtime/profile_sharing.h"

#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

#include "common/stats.h"
#include "partitioner/device_model.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"
#include "runtime/profile_turns.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::seconds_since;

// A loop of `runs` matmuls of `n`^3, lined up every `every`: one point of the curve.
struct Stretch {
  int64_t n;
  int every, runs;
};
// Stretches from about one mlp kernel to a gpt layer and more; a few line-ups each at least.
constexpr int64_t kN = partitioner::kTurnsMatmulSize;  // the model knows its operands' bytes
constexpr Stretch kStretches[] = {{kN, 1, 200}, {kN, 8, 400}, {kN, 64, 640}, {256, 100, 300}};

// Seconds per run of the matmul over `s.runs` runs (after one), calling `line_up` after
// every `s.every` of them where given. The mean over all, turns held off the PUs included:
// a step meets them too (the median block, which leaves them out, gave 89-100% on 4 ranks
// over 2 cores and left gpt's predictions at 0.8 of measured). The runs take copies of the
// operands in turn where `fill_cache`, filling about a core's cache, as a step's kernels
// fill it with their own data between turns: each turn then refills it.
double seconds_per_run(kernels::Backend& backend, const Stretch& s, const std::function<void()>* line_up,
                       bool fill_cache) {
  const double cache = static_cast<double>(private_cache_bytes() > 0 ? private_cache_bytes() : kPrivateCacheBytes);
  const double bytes = 3.0 * static_cast<double>(s.n * s.n) * sizeof(float);  // a, b and c
  const size_t copies = fill_cache ? static_cast<size_t>(std::clamp(cache / bytes, 1.0, 64.0)) : 1;
  std::vector<SquareMatmul> matmuls;
  matmuls.reserve(copies);
  for (size_t c = 0; c < copies; ++c) matmuls.emplace_back(backend, s.n);
  for (SquareMatmul& m : matmuls) m.run();
  const Clock::time_point start = Clock::now();
  for (int i = 1; i <= s.runs; ++i) {
    matmuls[static_cast<size_t>(i) % copies].run();
    if (line_up && i % s.every == 0) (*line_up)();
  }
  return seconds_since(start) / s.runs;
}

// Seconds of one `line_up` lined up (back to back, the mean over a hundred after ten): what
// the cost model already charges each collective as its own time, left out of the turns.
double line_up_seconds(const std::function<void()>& line_up) {
  constexpr int kWarm = 10, kTimed = 100;
  for (int i = 0; i < kWarm; ++i) line_up();
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < kTimed; ++i) line_up();
  return seconds_since(start) / kTimed;
}

// One round of the curve: each stretch's point, as measure_turns_by_stretch says, in
// kStretches' order.
partitioner::RateCurve one_round(const launcher::World& world, kernels::Backend& backend, double share,
                                 const std::function<void()>& line_up, bool fill_cache) {
  const auto leads = [&](double stretch, double kept) {  // rank 0's point, on every rank
    const uint64_t mine[] = {std::bit_cast<uint64_t>(stretch), std::bit_cast<uint64_t>(kept)};
    const std::vector<uint64_t> all = world.all_gather(mine, "the ranks' turns");
    return std::pair(std::bit_cast<double>(all[0]), std::bit_cast<double>(all[1]));
  };
  partitioner::RateCurve round;
  const double lined_up = line_up_seconds(line_up);
  double alone = 0;
  int64_t timed_alone = 0;  // the matmul size `alone` is of
  for (const Stretch& s : kStretches) {
    if (s.n != timed_alone) {
      world.on_lead([&] { alone = seconds_per_run(backend, s, nullptr, fill_cache); }, "timing a kernel alone");
      timed_alone = s.n;
    }
    line_up();
    const double together = seconds_per_run(backend, s, &line_up, fill_cache) - lined_up / s.every;
    // A stall (a rank descheduled for long) is not what every step meets: a third at the least.
    const double kept = alone > 0 && together > 0 ? std::clamp(alone / (share * together), 1.0 / 3, 1.0) : 1.0;
    round.push_back(leads(s.every * alone / share, kept));
  }
  return round;
}

}  // namespace

partitioner::RateCurve measure_turns_by_stretch(const launcher::World& world, kernels::Backend& backend, double share,
                                                const std::function<void()>& line_up, int rounds, bool fill_cache) {
  std::vector<partitioner::RateCurve> each;
  line_up();
  seconds_per_run(backend, kStretches[0], &line_up, fill_cache);  // untimed, as the header says
  for (int r = 0; r < std::max(rounds, 1); ++r) each.push_back(one_round(world, backend, share, line_up, fill_cache));
  partitioner::RateCurve curve;
  for (size_t point = 0; point < each.front().size(); ++point) {
    std::vector<double> stretches, kept;
    for (const partitioner::RateCurve& round : each) {
      stretches.push_back(round[point].first);
      kept.push_back(round[point].second);
    }
    curve.emplace_back(median(stretches), median(kept));
  }
  std::sort(curve.begin(), curve.end());
  return curve;
}

SharedPuTurns measure_shared_pu_turns(const launcher::World& world, collectives::Communicator& comm,
                                      kernels::Backend& backend, double share, int curve_rounds, int handoff_rounds) {
  const auto line_up = [&comm] {
    float x = 0;
    comm.native_all_reduce({&x, 1}, collectives::ReduceOp::sum);
  };
  SharedPuTurns out;
  out.by_stretch = measure_turns_by_stretch(world, backend, share, line_up, curve_rounds);
  out.by_stretch_filled = measure_turns_by_stretch(world, backend, share, line_up, curve_rounds, /*fill_cache=*/true);
  if (!comm.callable_from_another_thread()) return out;
  std::vector<double> handoffs;
  for (int r = 0; r < std::max(handoff_rounds, 1); ++r) handoffs.push_back(measure_handoff_in_turns(comm, backend));
  out.handoff_s = median(handoffs);
  return out;
}

}  // namespace spmd::runtime
