#include "runtime/profile_turns.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "collectives/timing.h"
#include "common/stats.h"
#include "common/units.h"
#include "partitioner/profile.h"
#include "runtime/comm_stream.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::line;
using profile_text::seconds_since;

constexpr int kRounds = 20;   // matmul then collective, timed together
constexpr int kRepeats = 3;   // of every loop, interleaved; the median kept
// MPI's own against ours: a stretch of compute as a step's between its collectives (mlp's:
// 100-200 us), 20 matmuls of 64^3, and 5 repeats, as the collective is a smaller part of
// each round. After one matmul (10 us) the ranks stay nearly in step, and MPI's all-reduce
// of 64 KiB came out at 0.89-1.02x ours in four profiles (0.98x and 1.09x after one 128^3
// or 256^3 matmul), where mlp megatron's step on 4 ranks over 2 cores took 0.38-0.50 ms
// with it and 0.26-0.33 ms with ours (its 256 KiB and 1 MiB all-reduces, in mlps of 1024
// hidden: 2.38 and 6.65 ms a step, 1.60 and 4.29 with ours); after 20, at 1.06-1.59x at
// every size the loop resolved, in four (1.05-1.85x on 3 ranks).
constexpr int kMatmulsInStretch = 20;
constexpr int kStretchRepeats = 5;
constexpr double kHandoffBytes = 4096;  // the all-reduce a hand-off in turns is timed with
// The sizes MPI's own is timed at in turns: where it loses changes with the size (its
// all-to-all on 3 ranks over 2 cores took 1.0-1.07x ours up to 64 KiB, 1.15x at 256 KiB and
// 1 MiB, 0.98x at 4 MiB; its all-gather 1.2x at 16 KiB, 0.8-1.0x above).
constexpr double kSizesInTurns[] = {16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20};
constexpr double kFewestTimes = 0.01, kMostTimes = 100;  // a ratio's bounds

// Seconds per round of kRounds rounds of `matmuls` runs of the matmul then `collective`
// (none: the matmuls alone), its buffers prepared (an all-reduce in place would grow its
// values without end) and the ranks lined up before the first; rank 0's figure on every
// rank.
// Where `stream` is given, each round's collective runs on it, waited for at once.
double per_round(collectives::Communicator& comm, SquareMatmul& matmul, const collectives::CollectiveRun* collective,
                 CommStream* stream = nullptr, int matmuls = 1) {
  if (collective) collective->prepare();
  float one = 1;
  comm.native_all_reduce({&one, 1}, collectives::ReduceOp::sum);
  const Clock::time_point start = Clock::now();
  for (int r = 0; r < kRounds; ++r) {
    for (int m = 0; m < matmuls; ++m) matmul.run();
    if (collective && stream) stream->wait(stream->submit(collective->run));
    else if (collective) collective->run();
  }
  float seconds = static_cast<float>(seconds_since(start) / kRounds);
  comm.native_broadcast({&seconds, 1}, 0);
  return seconds;
}

}  // namespace

std::vector<double> seconds_in_step(collectives::Communicator& comm, kernels::Backend& backend,
                                    const std::vector<collectives::CollectiveRun>& runs) {
  SquareMatmul matmul(backend, 64);
  std::vector<double> alone;
  std::vector<std::vector<double>> samples(runs.size());
  for (int repeat = 0; repeat < kStretchRepeats; ++repeat) {
    alone.push_back(per_round(comm, matmul, nullptr, nullptr, kMatmulsInStretch));
    for (size_t k = 0; k < runs.size(); ++k) {
      samples[k].push_back(per_round(comm, matmul, &runs[k], nullptr, kMatmulsInStretch));
    }
  }
  std::vector<double> out;
  for (const std::vector<double>& s : samples) out.push_back(std::max(0.0, median(s) - median(alone)));
  return out;
}

double measure_handoff_in_turns(collectives::Communicator& comm, kernels::Backend& backend) {
  SquareMatmul matmul(backend, 64);
  const collectives::CollectiveRun all_reduce = collectives::collective_run(
      comm, collectives::Primitive::all_reduce, collectives::Algorithm::recursive_doubling, kHandoffBytes);
  CommStream stream;
  std::vector<double> inline_s, handed_s;
  for (int repeat = 0; repeat < kRepeats; ++repeat) {
    inline_s.push_back(per_round(comm, matmul, &all_reduce));
    handed_s.push_back(per_round(comm, matmul, &all_reduce, &stream));
  }
  return std::max(0.0, median(handed_s) - median(inline_s));
}

void measure_native_in_turns(collectives::Communicator& comm, kernels::Backend& backend, double max_bytes,
                             partitioner::Profile& p, std::string& table) {
  using collectives::Primitive;
  std::vector<double> sizes;
  for (double bytes : kSizesInTurns) {
    if (bytes <= max_bytes) sizes.push_back(bytes);
  }
  if (sizes.empty()) sizes.push_back(kSizesInTurns[0]);
  p.native_in_turns_bytes = sizes.back();
  table += "MPI's own in a step, the ranks taking turns on their PUs (20 matmuls of 64^3, then the collective; "
           "time beyond the matmuls, MPI's own over the fastest of ours at each size)\n";
  for (Primitive primitive : {Primitive::all_reduce, Primitive::reduce_scatter, Primitive::all_gather,
                              Primitive::broadcast, Primitive::all_to_all}) {
    const std::string name = collectives::to_string(primitive);
    const std::vector<collectives::Algorithm> algorithms = collectives::algorithms_of(name);  // native first
    partitioner::RateCurve& by_size = p.native_in_turns[name];
    by_size.clear();
    table += line("  %s\n", name.c_str());
    for (double bytes : sizes) {
      const std::vector<double> t =
          seconds_in_step(comm, backend, collectives::collective_runs(comm, primitive, algorithms, bytes));
      const auto fastest = std::min_element(t.begin() + 1, t.end());
      // Within what a profile may hold: a time that rounds to nothing beyond the matmul
      // makes no ratio of thousands.
      const double ratio = std::clamp(std::max(t.front(), 1e-9) / std::max(*fastest, 1e-9), kFewestTimes, kMostTimes);
      by_size.emplace_back(bytes, ratio);
      table += line("    %8s: %8.1f us, %-26s %8.1f us; %5.2fx, %s\n", bytes_text(bytes).c_str(), t.front() * 1e6,
                    collectives::to_string(algorithms[static_cast<size_t>(fastest - t.begin())]).c_str(),
                    *fastest * 1e6, ratio, partitioner::native_left_out_in_turns(ratio) ? "left out" : "kept");
    }
  }
}

}  // namespace spmd::runtime
