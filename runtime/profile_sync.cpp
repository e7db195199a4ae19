#include "runtime/profile_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "common/stats.h"
#include "ir/graph.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::seconds_between;

bool ranks_share_cores(const launcher::Topology& topology) {
  const auto& devices = topology.devices();
  for (size_t i = 0; i < devices.size(); ++i) {
    for (size_t j = i + 1; j < devices.size(); ++j) {
      if (devices[i].node == devices[j].node && devices[i].cpuset == devices[j].cpuset) return true;
    }
  }
  return false;
}

struct Rounds {
  double stretch_s = 0;  // kernels per round, the median over rounds of the ranks' mean
  double wait_s = 0;     // per round beyond the kernels and a lined-up all-reduce, likewise
};

// `rounds` rounds of `matmuls` matmuls then an all-reduce of one float. Per round, the
// ranks' mean (the slowest rank waits least, the fastest most), then the median over
// rounds, as the profile's tables take theirs: a burst of noise on one round does not stand
// for every collective. A rank slower than another over the whole run (its median stretch
// longer) is the machine's state, not noise: where a job meets it, its kernels run at that
// rank's rates, which the profile's rates (the slowest measuring rank's) hold. So each
// rank's wait is counted beyond what the slowest median over its own makes: on a machine
// of 2 virtual cores one ran 90 matmuls in 496 us where the other took 712 us over a whole
// run, and kept, that wait put 17-25% of each stretch on a step that met 1-2%.
Rounds play(collectives::Communicator& comm, const std::function<void()>& matmul, int matmuls, int rounds,
            double lined_up_s) {
  float one = 1;
  comm.native_all_reduce({&one, 1}, collectives::ReduceOp::sum);
  std::vector<float> kernels(static_cast<size_t>(rounds)), waits(static_cast<size_t>(rounds));
  for (int r = 0; r < rounds; ++r) {
    const Clock::time_point a = Clock::now();
    for (int m = 0; m < matmuls; ++m) matmul();
    const Clock::time_point b = Clock::now();
    comm.native_all_reduce({&one, 1}, collectives::ReduceOp::sum);
    kernels[static_cast<size_t>(r)] = static_cast<float>(seconds_between(a, b));
    waits[static_cast<size_t>(r)] = static_cast<float>(seconds_between(b, Clock::now()) - lined_up_s);
  }
  float slowest = static_cast<float>(median(std::vector<double>(kernels.begin(), kernels.end())));
  const float own = slowest;
  comm.native_all_reduce({&slowest, 1}, collectives::ReduceOp::max);
  for (float& w : waits) w -= slowest - own;
  comm.native_all_reduce(kernels, collectives::ReduceOp::sum);
  comm.native_all_reduce(waits, collectives::ReduceOp::sum);
  const double ranks = comm.size();
  return {median(std::vector<double>(kernels.begin(), kernels.end())) / ranks,
          std::max(0.0, median(std::vector<double>(waits.begin(), waits.end())) / ranks)};
}

}  // namespace

void measure_sync_wait(collectives::Communicator& comm, const launcher::Topology& topology,
                       kernels::Backend& backend, partitioner::Profile& p, std::string& table) {
  if (comm.size() < 2) return;
  if (ranks_share_cores(topology)) {
    table += "  sync wait: not measured (ranks share cores: the kernels' rates hold the turns they take)\n";
    return;
  }
  SquareMatmul square(backend, 64);
  const std::function<void()> matmul = [&] { square.run(); };
  // An all-reduce of ranks already lined up, and how many matmuls make about 1 ms (rank
  // 0's count, so that every rank does the same work).
  float one = 1;
  comm.native_all_reduce({&one, 1}, collectives::ReduceOp::sum);
  // The median, as the profile's collective tables time them: the wait is the rest.
  std::vector<double> lined_up(200);
  for (double& s : lined_up) {
    const Clock::time_point a = Clock::now();
    comm.native_all_reduce({&one, 1}, collectives::ReduceOp::sum);
    s = seconds_between(a, Clock::now());
  }
  const double lined_up_s = median(lined_up);
  // Each matmul timed alone, the median kept: one slow start (50 timed together once
  // gave a count of 2, and a long stretch hardly longer than a short one) does not set it.
  std::vector<double> one_matmul(50);
  for (double& s : one_matmul) {
    const Clock::time_point a = Clock::now();
    matmul();
    s = seconds_between(a, Clock::now());
  }
  float per_ms = static_cast<float>(std::clamp(1e-3 / median(one_matmul), 2.0, 1e4));
  comm.native_broadcast({&per_ms, 1}, 0);
  const Rounds short_rounds = play(comm, matmul, 1, 1000, lined_up_s);
  // Five runs of the long stretches, the one of median wait kept: a burst of noise over
  // most of one run's rounds had made the wait 97% of the stretch, against 8-20% in others.
  std::vector<Rounds> long_runs;
  for (int run = 0; run < 5; ++run) long_runs.push_back(play(comm, matmul, static_cast<int>(per_ms), 100, lined_up_s));
  std::sort(long_runs.begin(), long_runs.end(), [](const Rounds& x, const Rounds& y) { return x.wait_s < y.wait_s; });
  const Rounds long_rounds = long_runs[2];
  const double figures[] = {short_rounds.stretch_s, short_rounds.wait_s, long_rounds.stretch_s, long_rounds.wait_s};
  const double fraction = std::max(0.0, (figures[3] - figures[1]) / (figures[2] - figures[0]));
  const std::string measured = profile_text::line(
      "  sync wait: %.1f us after %.1f us of kernels, %.1f us after %.1f us (an all-reduce lined up: %.1f us)",
      figures[1] * 1e6, figures[0] * 1e6, figures[3] * 1e6, figures[2] * 1e6, lined_up_s * 1e6);
  // Ranks doing the same work wait on average half their difference: a wait beyond the
  // stretch itself means one rank ran at a third of the other's speed, a stall of the
  // machine's rather than the noise a step meets. Such a figure is said, not kept.
  if (figures[2] < 4 * figures[0] || fraction > 1.0) {
    table += measured + profile_text::line(": %.0f%% of the stretch, not kept (the machine stalled a rank; profile again)\n",
                                           fraction * 100);
    return;
  }
  p.sync_wait_fraction = fraction;
  p.sync_wait_s = std::max(0.0, figures[1] - fraction * figures[0]);
  table += measured + profile_text::line(": %.1f us + %.1f%% of the compute since the last collective\n",
                                         p.sync_wait_s * 1e6, p.sync_wait_fraction * 100);
}

}  // namespace spmd::runtime
