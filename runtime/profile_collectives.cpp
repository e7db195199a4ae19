#include "runtime/profile_collectives.h"

#include <algorithm>
#include <iterator>

#include "collectives/cost_fit.h"
#include "collectives/primitives.h"
#include "collectives/timing.h"
#include "common/stats.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::line;
using profile_text::sizes_up_to;

// The slowest rank's median time of each algorithm at each size, times[a][i], and how far
// its runs spread, spreads[a][i], the algorithms interleaved at each size
// (collectives/timing.h).
struct AlgorithmTimes {
  std::vector<std::vector<double>> times, spreads;
};

// Rounds over every primitive and size, each point the median of the rounds: the machine's
// load drifts over seconds, and a profile that timed each size once read the drift as the
// algorithms' own. On 2 ranks here one profile timed MPI's 1 MiB all-gather at 94 us and our
// ring at 54 us, and chose the ring; the next three read MPI's at 36-66 us and the ring at
// 44-71 us, and bench_collectives ran the ring at 0.62x MPI's. A burst shorter than a round
// slows one round of each size, and that one is left out.
constexpr int kCollectiveRounds = 3;

// One round of `primitive`: every algorithm at every size, interleaved per size.
AlgorithmTimes interleaved_times(collectives::Communicator& comm, collectives::Primitive primitive,
                                 const std::vector<collectives::Algorithm>& algorithms, const std::vector<double>& sizes) {
  AlgorithmTimes out{std::vector<std::vector<double>>(algorithms.size()),
                     std::vector<std::vector<double>>(algorithms.size())};
  for (double bytes : sizes) {
    const std::vector<collectives::CollectiveRun> runs = collectives::collective_runs(comm, primitive, algorithms, bytes);
    // Small collectives vary most from run to run, and cost least to repeat. Their runs
    // also grow faster over the first twenty or so: on 2 ranks here the median of 9 read a
    // ring reduce-scatter of 64 KiB at 12.3 us, of 21 at 10.8-11.5, of 50 and 100 at 11.3-11.4.
    std::vector<double> spreads;
    const std::vector<double> medians = collectives::time_interleaved(comm, runs, bytes <= (1 << 20) ? 21 : 3, &spreads);
    for (size_t k = 0; k < runs.size(); ++k) {
      out.times[k].push_back(medians[k]);
      out.spreads[k].push_back(spreads[k]);
    }
  }
  return out;
}

// Each point the median of its rounds (common/stats.h), with how far they spread (kept in
// the band: launcher::MeasuredAlgorithm::spread).
AlgorithmTimes combined(const std::vector<AlgorithmTimes>& rounds) {
  AlgorithmTimes out = rounds.front();
  for (size_t k = 0; k < out.times.size(); ++k) {
    for (size_t i = 0; i < out.times[k].size(); ++i) {
      std::vector<double> times, spreads;
      for (const AlgorithmTimes& r : rounds) times.push_back(r.times[k][i]), spreads.push_back(r.spreads[k][i]);
      const RoundsMedian m = median_of_rounds(times, spreads);
      out.times[k][i] = m.median;
      out.spreads[k][i] = m.spread;
    }
  }
  return out;
}

// One algorithm's rows of the nccl-tests style table (size, time, algbw, busbw), the line
// alpha-beta-gamma fit over all sizes with its error, and its bands (cost_fit.h), which
// give the measured times back and interpolate between them.
std::vector<launcher::MeasuredAlgorithm> fit_algorithm(const std::string& primitive, collectives::Algorithm a, int p,
                                                       const std::vector<double>& sizes, const std::vector<double>& times,
                                                       const std::vector<double>& spreads, double busbw_factor,
                                                       std::string& table) {
  std::vector<collectives::CostTerms> terms;
  for (size_t i = 0; i < sizes.size(); ++i) {
    terms.push_back(collectives::cost_terms(primitive, a, p, sizes[i]));
    table += line("  %-26s %12.0f %12.2f %12.2f %12.2f\n", collectives::to_string(a).c_str(), sizes[i], times[i] * 1e6,
                  sizes[i] / times[i] / 1e9, sizes[i] / times[i] / 1e9 * busbw_factor);
  }
  const collectives::FittedCost f = collectives::fit_cost(terms, times);
  const std::vector<collectives::FittedBand> bands = collectives::fit_cost_bands(sizes, terms, times);
  table += line("  %-26s fit: alpha %.2f us, beta %.3f ns/KB, gamma %.3f ns/KB, rms error %.1f%%; kept as %zu bands; "
                "runs spread %.1f%% at most\n",
                collectives::to_string(a).c_str(), f.alpha_s * 1e6, f.beta_s_per_byte * 1e12, f.gamma_s_per_byte * 1e12,
                f.error * 100, bands.size(), 100 * *std::max_element(spreads.begin(), spreads.end()));
  std::vector<launcher::MeasuredAlgorithm> out;
  for (const collectives::FittedBand& b : bands) {
    // The most any size of the band spread (a band holds sizes above the last one's bound).
    double spread = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const bool in_band = (b.up_to_bytes == 0 || sizes[i] <= b.up_to_bytes) &&
                           (out.empty() || sizes[i] > out.back().up_to_bytes);
      if (in_band) spread = std::max(spread, spreads[i]);
    }
    out.push_back({primitive, collectives::to_string(a), b.up_to_bytes, b.cost.alpha_s, b.cost.beta_s_per_byte,
                   b.cost.gamma_s_per_byte, b.cost.error, b.cost.offset_s, spread});
  }
  return out;
}

}  // namespace

// Every algorithm of every primitive over all ranks, timed in rounds and fitted. Every rank gets the
// same times (each is the slowest rank's), so the same fits.
std::vector<launcher::MeasuredAlgorithm> collective_tables(collectives::Communicator& comm, double max_bytes,
                                                           std::string& table) {
  using collectives::Primitive;
  const int p = comm.size();
  const std::vector<double> sizes = sizes_up_to(max_bytes);
  const Primitive primitives[] = {Primitive::all_reduce, Primitive::reduce_scatter, Primitive::all_gather,
                                  Primitive::broadcast, Primitive::all_to_all};
  // The backend's own collective too: where it beats ours, synthesis picks it.
  const auto algorithms = [](Primitive primitive) { return collectives::algorithms_of(collectives::to_string(primitive)); };
  std::vector<std::vector<AlgorithmTimes>> rounds(std::size(primitives));
  for (int r = 0; r < kCollectiveRounds; ++r) {
    for (size_t j = 0; j < std::size(primitives); ++j) {
      rounds[j].push_back(interleaved_times(comm, primitives[j], algorithms(primitives[j]), sizes));
    }
  }
  std::vector<launcher::MeasuredAlgorithm> fitted;
  for (size_t j = 0; j < std::size(primitives); ++j) {
    const Primitive primitive = primitives[j];
    const std::string name = collectives::to_string(primitive);
    table += name + " over " + std::to_string(p) + " ranks (slowest rank, the median of " +
             std::to_string(kCollectiveRounds) + " rounds' medians of 3 to 21 runs)\n" +
             line("  %-26s %12s %12s %12s %12s\n", "algorithm", "size (B)", "time (us)", "algbw (GB/s)", "busbw (GB/s)");
    // nccl-tests' bus bandwidth factors: what each rank's link carries per byte of buffer.
    const double factor = primitive == Primitive::all_reduce ? 2.0 * (p - 1) / p
                          : primitive == Primitive::broadcast ? 1.0
                                                               : (p - 1.0) / p;
    const std::vector<collectives::Algorithm> of = algorithms(primitive);
    const AlgorithmTimes measured = combined(rounds[j]);
    for (size_t k = 0; k < of.size(); ++k) {
      for (auto& band : fit_algorithm(name, of[k], p, sizes, measured.times[k], measured.spreads[k], factor, table)) {
        fitted.push_back(band);
      }
    }
  }
  return fitted;
}

}  // namespace spmd::runtime
