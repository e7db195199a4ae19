#include "runtime/profile_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "collectives/cost.h"
#include "collectives/cost_fit.h"
#include "collectives/primitives.h"
#include "collectives/timing.h"
#include "common/error.h"
#include "common/stats.h"
#include "common/units.h"
#include "ir/ops.h"
#include "launcher/mpi_settings.h"
#include "launcher/mpi_wait.h"
#include "partitioner/device_model.h"
#include "runtime/comm_stream.h"
#include "runtime/profile_cold.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_rewrite.h"
#include "runtime/profile_sharing.h"
#include "runtime/profile_sync.h"
#include "runtime/profile_turns.h"
#include "runtime/profile_text.h"
#include "runtime/slowest_rank.h"

namespace spmd::runtime {
namespace {

using profile_text::Clock;
using profile_text::line;
using profile_text::seconds_since;

// Median of 5 timed runs of `fn` after one warm-up.
template <class F>
double timed(F&& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    fn();
    t.push_back(seconds_since(start));
  }
  return median(t);
}

// The round trip of an empty work through a communication stream: what every overlapped
// collective pays on top of its own time (partitioner::DeviceModel::handoff_s).
void measure_handoff(partitioner::Profile& p, std::string& table) {
  CommStream stream;
  p.handoff_s = timed([&] {
    for (int i = 0; i < 100; ++i) stream.wait(stream.submit([] {}));
  }) / 100;
  table += line("  hand-off         %9.3f us  (a collective to the communication thread and back)\n",
                p.handoff_s * 1e6);
}

std::vector<double> sizes_up_to(double max_bytes) {
  std::vector<double> sizes;
  for (double b = 4096; b <= max_bytes; b *= 4) sizes.push_back(b);
  return sizes;
}

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
    const double round_trip = timed([&] {
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

// Each point the median of its rounds (common/stats.h), whose spread the choice between ours
// and MPI's own allows for (collectives::native_margin).
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

// The kernel rates, measured alone on the PUs, as each rank gets them when all run: the part
// of the PUs partitioner::cpu_share gives the ranks bound to them (1 on cores of their own).
// The fixed cost of a kernel grows as the rates shrink: ranks taking turns on a PU each pay
// theirs on it (4 ranks on 2 cores ran mlp's small kernels at twice the cost alone).
void share_kernel_rates(const launcher::Topology& topology, const kernels::Backend& backend, ProfileRun& run) {
  if (backend.device_memory() || topology.devices().empty()) return;
  const launcher::Device& first = topology.devices().front();
  const double share = partitioner::cpu_share(topology, first, kernels::cpu_threads());
  if (!(share < 1)) return;
  partitioner::Profile& p = run.profile;
  p.matmul_flops *= share;
  p.memory_Bps *= share;
  p.op_latency_s /= share;
  for (auto& point : p.matmul_by_size) point.second *= share;
  for (auto& point : p.memory_by_size) point.second *= share;
  for (partitioner::GemmPoint& g : p.matmul_by_shape) g.flops_per_s *= share;
  run.table += line("  the ranks bound to these PUs share them: each gets %.2f of these rates, and pays %.3f us a kernel\n",
                    share, p.op_latency_s * 1e6);
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

// Writing over what a peer process read (profile_rewrite.h): an add's figure, and each
// optimizer update's by name.
void measure_rewrites(collectives::Communicator& comm, const launcher::Topology& topology, kernels::Backend& backend,
                      ProfileRun& run) {
  const PeerRewrite measured = measure_peer_rewrite(comm, topology, backend);
  run.profile.peer_rewrite_Bps = measured.any_Bps;
  if (measured.any_Bps <= 0) return;
  run.table += "memory a peer process read, rewritten (bytes/s of the extra time)\n" +
               line("  %-12s %8.2f GB/s\n", "add", measured.any_Bps / 1e9);
  for (size_t op = 0; op < measured.by_op.size(); ++op) {
    if (measured.by_op[op] <= 0) continue;
    const std::string name(ir::all_ops()[op].name);
    run.profile.peer_rewrite_by_op[name] = measured.by_op[op];
    run.table += line("  %-12s %8.2f GB/s\n", name.c_str(), measured.by_op[op] / 1e9);
  }
}

// Rounds of the turns curve and of the hand-off in turns whose medians the profile keeps:
// bind's one round of the curve read 83-100% over 37 ms stretches from run to run.
constexpr int kTurnsRounds = 5, kHandoffRounds = 3;

// Where the ranks share PUs: what taking turns on them leaves each of its share
// (profile_sharing.h) and a hand-off to the communication thread then (profile_turns.h),
// for a job of the same share to take in place of bind's brief measure: the curve as the
// loop's data stays in a core's cache and as it fills it. About 2 s on 4 ranks over 2 cores.
void measure_turns(const launcher::World& world, collectives::Communicator& comm, const launcher::Topology& topology,
                   kernels::Backend& backend, ProfileRun& run) {
  const double share = partitioner::cpu_share(topology, topology.devices().front(), kernels::cpu_threads());
  if (!(share < 1)) return;
  partitioner::Profile& p = run.profile;
  p.turns_share = share;
  const SharedPuTurns turns = measure_shared_pu_turns(world, comm, backend, share, kTurnsRounds, kHandoffRounds);
  p.turns_by_stretch = turns.by_stretch;
  p.turns_by_stretch_filled = turns.by_stretch_filled;
  run.table += line("turns on the shared PUs (each rank's share %.2f; the median of %d rounds): the part of the share "
                    "kept by stretch of compute between collectives\n ",
                    share, kTurnsRounds);
  for (const auto& [stretch, kept] : p.turns_by_stretch) run.table += line(" %.0f us %.0f%%;", stretch * 1e6, kept * 100);
  run.table += "\n  their kernels filling a core's cache:";
  for (const auto& [stretch, kept] : p.turns_by_stretch_filled) {
    run.table += line(" %.0f us %.0f%%;", stretch * 1e6, kept * 100);
  }
  if (turns.handoff_s) {
    p.handoff_in_turns_s = *turns.handoff_s;
    run.table += line(" a hand-off to the communication thread then %.1f us", p.handoff_in_turns_s * 1e6);
  }
  run.table += "\n";
}

}  // namespace

void keep_slowest_kernels(const launcher::World& world, partitioner::Profile& p, std::string& table) {
  std::vector<double> figures = {p.matmul_flops, p.memory_Bps, p.op_latency_s};
  for (const auto& point : p.matmul_by_size) figures.push_back(point.second);
  for (const auto& point : p.memory_by_size) figures.push_back(point.second);
  for (const partitioner::GemmPoint& g : p.matmul_by_shape) figures.push_back(g.flops_per_s);
  figures = slowest_of_ranks(world, figures, [](size_t i) { return i == 2; }, "the ranks' kernel figures");
  p.matmul_flops = figures[0];
  p.memory_Bps = figures[1];
  p.op_latency_s = figures[2];
  size_t at = 3;
  for (auto& point : p.matmul_by_size) point.second = figures[at++];
  for (auto& point : p.memory_by_size) point.second = figures[at++];
  for (partitioner::GemmPoint& g : p.matmul_by_shape) g.flops_per_s = figures[at++];
  if (world.size() > 1) {
    table += line("  kept, the slowest measuring rank's: add 1 element %.3f us, matmul %.1f GFLOP/s at best, memory %.1f GB/s\n",
                  p.op_latency_s * 1e6, p.matmul_flops / 1e9, p.memory_Bps / 1e9);
  }
}

// Ranks that share PUs and all time at once take turns on them mid-kernel: 4 ranks on 2
// PUs timed matmuls at 1/8 of their rate alone, where in training each gets half the time
// (a rank waiting in a collective gives its PU to another).
bool measures_kernels(const launcher::Topology& topology, int rank) {
  const std::vector<launcher::Device>& devices = topology.devices();
  if (rank >= static_cast<int>(devices.size())) return true;
  const launcher::Device& mine = devices[static_cast<size_t>(rank)];
  for (int r = 0; r < rank; ++r) {
    const launcher::Device& d = devices[static_cast<size_t>(r)];
    if (d.kind != launcher::DeviceKind::gpu && d.node == mine.node && d.cpuset == mine.cpuset) return false;
  }
  return true;
}

bool ranks_have_pus_of_their_own(const launcher::Topology& topology, int ranks) {
  if (ranks < 2) return false;
  for (int r = 0; r < ranks; ++r) {
    if (!measures_kernels(topology, r)) return false;
  }
  return true;
}

launcher::IdleWait idle_wait_for(const launcher::Topology& topology, int ranks) {
  return ranks_have_pus_of_their_own(topology, ranks) ? launcher::IdleWait::poll : launcher::IdleWait::back_off;
}

BriefLinks measure_links_briefly(collectives::Communicator& comm, const launcher::Topology& topology) {
  BriefLinks out;
  std::string unused;
  partitioner::Profile p;
  measure_handoff(p, unused);
  out.levels = measure_levels(comm, topology, 1 << 20, unused);
  std::vector<float> figures = {static_cast<float>(p.handoff_s * 1e9)};
  for (const partitioner::LevelProfile& l : out.levels) {
    figures.insert(figures.end(), {static_cast<float>(l.latency_s * 1e9), static_cast<float>(l.bandwidth_Bps / 1e9)});
  }
  comm.native_broadcast(figures, 0);
  out.handoff_s = figures[0] / 1e9;
  for (size_t i = 0; i < out.levels.size(); ++i) {
    out.levels[i].latency_s = figures[1 + 2 * i] / 1e9;
    out.levels[i].bandwidth_Bps = figures[2 + 2 * i] * 1e9;
  }
  links_as_all_ranks_meet_them(comm, topology, out.levels);
  return out;
}

ProfileRun measure_profile(const launcher::World& world, collectives::Communicator& comm,
                           const launcher::Topology& topology, kernels::Backend& backend, double max_bytes) {
  if (!(max_bytes >= kProfileLeastMaxBytes && max_bytes <= kProfileMostMaxBytes)) {
    throw Error("the largest message to time, " + bytes_text(max_bytes) + ", is not from " +
                bytes_text(kProfileLeastMaxBytes) + " (two sizes to fit a line through) to " +
                bytes_text(kProfileMostMaxBytes));
  }
  // Waits go as the jobs it is for will wait (Job::bind), so that what it times of them holds.
  const launcher::IdleWait before = launcher::idle_wait();
  launcher::set_idle_wait(idle_wait_for(topology, comm.size()));
  struct Restore {
    launcher::IdleWait how;
    ~Restore() { launcher::set_idle_wait(how); }
  } restore{before};
  ProfileRun run;
  run.profile.fingerprint = launcher::fingerprint(topology);
  run.profile.kernel_threads = kernels::cpu_threads();
  run.profile.mpi_collectives = launcher::mpi_collective_settings();  // what chose MPI's own collectives timed here
  measure_kernels(
      backend, run.profile, run.table,
      [&comm] {
        float line_up = 0;
        comm.native_all_reduce({&line_up, 1}, collectives::ReduceOp::sum);
      },
      measures_kernels(topology, comm.rank()),
      [&comm](bool mine) {
        float any = mine ? 1 : 0;
        comm.native_all_reduce({&any, 1}, collectives::ReduceOp::max);
        return any > 0;
      });
  keep_slowest_kernels(world, run.profile, run.table);
  measure_handoff(run.profile, run.table);
  measure_sync_wait(comm, topology, backend, run.profile, run.table);
  measure_rewrites(comm, topology, backend, run);
  run.profile.levels = measure_levels(comm, topology, max_bytes, run.table);
  if (comm.size() > 1) {
    // The collectives span the job's outermost level: their fits belong to it.
    const std::string outer = outermost_level(topology);
    std::vector<launcher::MeasuredAlgorithm> fitted = collective_tables(comm, max_bytes, run.table);
    for (partitioner::LevelProfile& l : run.profile.levels) {
      if (!outer.empty() && l.name == outer) l.algorithms = fitted;
    }
    if (partitioner::ranks_take_turns(topology)) {
      measure_native_in_turns(comm, backend, max_bytes, run.profile, run.table);
      if (!backend.device_memory()) measure_turns(world, comm, topology, backend, run);
    }
    if (!backend.device_memory()) measure_collectives_cold(comm, max_bytes, run.profile, run.table);
  }
  // Every rank holds rank 0's hand-off and fits (only rank 0 and each peer timed the
  // levels), the kernels' figures being the slowest rank's on every rank already: one
  // broadcast of the numbers.
  std::vector<float> figures = {static_cast<float>(run.profile.handoff_s * 1e9)};
  for (const partitioner::LevelProfile& l : run.profile.levels) {
    figures.insert(figures.end(), {static_cast<float>(l.latency_s * 1e9), static_cast<float>(l.bandwidth_Bps / 1e9),
                                   static_cast<float>(l.fit_error)});
  }
  comm.native_broadcast(figures, 0);
  run.profile.handoff_s = figures[0] / 1e9;
  size_t at = 1;
  for (partitioner::LevelProfile& l : run.profile.levels) {
    l.latency_s = figures[at++] / 1e9;
    l.bandwidth_Bps = figures[at++] * 1e9;
    l.fit_error = figures[at++];
  }
  share_kernel_rates(topology, backend, run);
  return run;
}

}  // namespace spmd::runtime
