#include "runtime/profile_links.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "collectives/cost.h"
#include "collectives/timing.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

using profile_text::line;
using profile_text::median_of_5_runs;
using profile_text::sizes_up_to;

// Least squares of t = alpha + beta * bytes, each point weighted by 1 / t^2 so that the
// relative error counts (small messages would otherwise not weigh at all against 16 MiB
// ones); the relative RMS error of the fit.
partitioner::LevelProfile fit(const std::string& name, const std::vector<double>& bytes, const std::vector<double>& t) {
  const double n = static_cast<double>(bytes.size());
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const double w = 1.0 / (t[i] * t[i]);
    sw += w, sx += w * bytes[i], sy += w * t[i], sxx += w * bytes[i] * bytes[i], sxy += w * bytes[i] * t[i];
  }
  double beta = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  double alpha = (sy - beta * sx) / sw;
  beta = std::max(beta, 1e-15);
  alpha = std::max(alpha, 1e-8);
  double err = 0;
  for (size_t i = 0; i < bytes.size(); ++i) err += std::pow((alpha + beta * bytes[i] - t[i]) / t[i], 2);
  return {name, alpha, 1.0 / beta, std::sqrt(err / n), {}};
}

// Rank 0 and `peer` ping-pong; the others wait at the end. One-way time = round trip / 2.
partitioner::LevelProfile measure_level(collectives::Communicator& comm, const std::string& name, int peer,
                                        double max_bytes, std::string& table) {
  std::vector<double> sizes = sizes_up_to(max_bytes), times;
  std::vector<float> buffer(static_cast<size_t>(max_bytes / 4));
  table += "level " + name + ": rank 0 <-> rank " + std::to_string(peer) + "\n" +
           line("  %12s %12s %12s\n", "size (B)", "time (us)", "algbw (GB/s)");
  for (double bytes : sizes) {
    std::span<float> msg(buffer.data(), static_cast<size_t>(bytes / 4));
    const double round_trip = median_of_5_runs([&] {
      if (comm.rank() == 0) {
        comm.send(msg, peer);
        comm.recv(msg, peer);
      } else if (comm.rank() == peer) {
        comm.recv(msg, 0);
        comm.send(msg, 0);
      }
    });
    times.push_back(round_trip / 2);
    table += line("  %12.0f %12.2f %12.2f\n", bytes, round_trip / 2 * 1e6, bytes / (round_trip / 2) / 1e9);
  }
  partitioner::LevelProfile l = fit(name, sizes, times);
  table += line("  fit: latency %.2f us, bandwidth %.2f GB/s, rms error %.1f%%\n", l.latency_s * 1e6,
                l.bandwidth_Bps / 1e9, l.fit_error * 100);
  return l;
}

}  // namespace

// For each level of `topology`, rank 0 and the first rank whose lowest common group with it
// is at that level ping-pong messages of 4 KiB to `max_bytes`.
std::vector<partitioner::LevelProfile> measure_levels(collectives::Communicator& comm,
                                                      const launcher::Topology& topology, double max_bytes,
                                                      std::string& table) {
  std::vector<partitioner::LevelProfile> levels;
  for (int l = 0; l < static_cast<int>(topology.levels().size()); ++l) {
    int peer = -1;
    for (int d = 1; d < topology.num_devices() && peer < 0; ++d) peer = topology.common_level(0, d) == l ? d : -1;
    if (peer < 0) continue;
    levels.push_back(measure_level(comm, topology.levels()[l].name, peer, max_bytes, table));
  }
  return levels;
}

// The name of the outermost level a collective over every device of `topology` spans
// (where the job's collectives run), or "" where they span none.
std::string outermost_level(const launcher::Topology& topology) {
  std::vector<int> all(static_cast<size_t>(topology.num_devices()));
  for (int d = 0; d < topology.num_devices(); ++d) all[static_cast<size_t>(d)] = d;
  const std::vector<int> spanned = topology.levels_spanned(all);
  return spanned.empty() ? "" : topology.levels()[static_cast<size_t>(spanned.front())].name;
}

// The latency a small ring all-gather over every rank of the job shows per round, and the
// bandwidth a large one shows then, on the level the job spans outermost, where they are
// worse than the ping-pong's. A ping-pong between two ranks, the others idle, misses what
// all ranks at once meet: ranks that share cores (mpirun --oversubscribe) take turns in
// every round, and 4 ranks on 2 cores ping-pong at 12 us and gather 4 KiB in 40-60 us; they
// copy in turns too, and gathered 256 KiB in 53 us where the ping-pong's figures said 24.
// Collective over `comm`; a few ms.
void links_as_all_ranks_meet_them(collectives::Communicator& comm, const launcher::Topology& topology,
                                  std::vector<partitioner::LevelProfile>& levels) {
  const int p = comm.size();
  if (p < 3) return;  // two ranks: the ping-pong is the whole job
  const std::string outer = outermost_level(topology);
  const auto gather_seconds = [&](double bytes) {
    return collectives::time_collective(
        comm, collectives::collective_run(comm, collectives::Primitive::all_gather, collectives::Algorithm::ring, bytes),
        25);
  };
  for (partitioner::LevelProfile& l : levels) {
    if (outer.empty() || l.name != outer) continue;
    const double small = 1024.0 * p, large = 256.0 * 1024 * p;
    const double per_round = collectives::latency_of("all_gather", collectives::Algorithm::ring, p, small,
                                                     gather_seconds(small), {l.latency_s, l.bandwidth_Bps});
    if (std::isfinite(per_round) && per_round > l.latency_s) l.latency_s = per_round;
    const double bandwidth = collectives::bandwidth_of("all_gather", collectives::Algorithm::ring, p, large,
                                                       gather_seconds(large), {l.latency_s, l.bandwidth_Bps});
    if (std::isfinite(bandwidth) && bandwidth < l.bandwidth_Bps) l.bandwidth_Bps = bandwidth;
  }
}

}  // namespace spmd::runtime
