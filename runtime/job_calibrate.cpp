// runtime::Job's calibration at bind (job.h): the kernels and links it measures for the
// cost model where no profile gave them, and the profile's figures where one did.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectives/mpi/mpi_communicator.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/profile.h"
#include "runtime/job.h"
#include "runtime/kernel_figures.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_rewrite.h"
#include "runtime/profile_run.h"
#include "runtime/profile_sharing.h"
#include "runtime/profile_turns.h"
#include "runtime/program_ops.h"

namespace spmd::runtime {
namespace {

// How much longer the program's GEMMs took in a step's conditions than the model of
// `figures` prices them alone (its times at the share of the PUs it gives, times that
// share): those within a core's cache after writes (`within_s`, by gemms_within_cache(g)),
// the others on cold operands (`beyond_s`, by gemms_beyond_cache(g)), batched or not; 0
// where not timed. The model's gemm_after_writes, gemm_beyond_cache and
// batched_gemm_beyond_cache, set in `figures` and said ("" where none was timed). Each
// held within 0.5-4x: a figure beyond says more of a noisy run than of the kernels.
std::string fit_gemms_in_step(const ir::Graph& g, const launcher::Topology* topology, int ranks,
                              const std::vector<double>& within_s, const std::vector<double>& beyond_s,
                              partitioner::DeviceOverrides& figures) {
  figures.cpu_gemm_after_writes = 0, figures.cpu_gemm_after_writes_below_bytes = 0;  // a bind's before
  figures.cpu_gemm_beyond_cache = 0, figures.cpu_batched_gemm_beyond_cache = 0;
  std::optional<launcher::Topology> flat;
  const launcher::Topology& on = partitioner::topology_or_flat(topology, ranks, flat);
  const partitioner::DeviceModel model = partitioner::device_model(on, figures);
  const double share = on.devices().empty() ? 1.0 : partitioner::cpu_share(on, on.devices().front(), figures.cpu_threads);
  const auto fit = [&](const std::vector<ir::ValueId>& gemms, const std::vector<double>& seconds, auto&& which) {
    double timed = 0, priced = 0;
    for (size_t i = 0; i < gemms.size() && i < seconds.size(); ++i) {
      if (!(seconds[i] > 0) || !which(gemms[i])) continue;
      timed += seconds[i];
      priced += partitioner::op_seconds(g, gemms[i], model) * share;
    }
    return timed > 0 && priced > 0 ? std::clamp(timed / priced, 0.5, 4.0) : 0.0;
  };
  const auto batched = [&](ir::ValueId v) { return partitioner::gemm_shape(g, v)->batch > 1; };
  const std::vector<ir::ValueId> beyond = gemms_beyond_cache(g);
  figures.cpu_gemm_after_writes = fit(gemms_within_cache(g), within_s, [](ir::ValueId) { return true; });
  figures.cpu_gemm_beyond_cache = fit(beyond, beyond_s, [&](ir::ValueId v) { return !batched(v); });
  figures.cpu_batched_gemm_beyond_cache = fit(beyond, beyond_s, batched);
  std::string said;
  char part[120];
  if (figures.cpu_gemm_after_writes > 0) {
    std::snprintf(part, sizeof part, "; GEMMs within a core's cache %.2fx their rates as a step finds them",
                  figures.cpu_gemm_after_writes);
    said += part;
  }
  for (const auto& [factor, what] : {std::pair{figures.cpu_gemm_beyond_cache, ""},
                                     std::pair{figures.cpu_batched_gemm_beyond_cache, " batched"}}) {
    if (!(factor > 0)) continue;
    std::snprintf(part, sizeof part, "; GEMMs%s beyond the cache %.2fx their rates on cold operands", what, factor);
    said += part;
  }
  const bool fitted = figures.cpu_gemm_after_writes > 0 || figures.cpu_gemm_beyond_cache > 0 ||
                      figures.cpu_batched_gemm_beyond_cache > 0;
  if (fitted) figures.cpu_gemm_after_writes_below_bytes = static_cast<double>(kPrivateCacheBytes);
  return said;
}

// What bind says of the ops' own fixed costs (measure_op_fixed_costs): "; the fixed cost of
// N ops of their own, A-B us", or "" where it timed none.
std::string fixed_costs_said(const std::vector<double>& fixed) {
  std::vector<double> timed;
  for (double s : fixed) {
    if (s > 0) timed.push_back(s);
  }
  if (timed.empty()) return "";
  const auto [least, most] = std::minmax_element(timed.begin(), timed.end());
  char said[100];
  std::snprintf(said, sizeof said, "; the fixed cost of %zu ops of their own, %.1f-%.1f us", timed.size(), *least * 1e6,
                *most * 1e6);
  return said;
}

}  // namespace

// Without a profile the device table's CPU rate is a guess (a clock and a vector width),
// 3x off on some machines, and no profile says what each op of this program costs. As
// FlexFlow measures each operator on the device before its search (Jia et al. 2019, "Beyond
// Data and Model Parallelism for Deep Neural Networks"), the ranks measure their kernels
// and every rank takes the same figures, so that all plan alike: where each rank has cores
// of its own, all at once, as training loads the machine (caches and memory shared: on 2
// ranks of 2 cores, mlp's kernels ran 1.3x slower than rank 0 timed them alone), each
// figure the slowest rank's; where ranks share cores, rank 0 alone while the others
// wait, its figures everyone's. The user's figures win; a GPU keeps its table row.

// Whether every rank of the job has PUs of its own (each the first, and only, rank bound to
// them), so that all may time kernels at once.
bool Job::own_cores() const {
  return topology_ && world_ && ranks_have_pus_of_their_own(*topology_, world_->size());
}

void Job::calibrate_device(bool profiled) {
  partitioner::DeviceOverrides& d = description_.partitioning.search.device;
  if (backend_->device_memory()) return;
  const bool basics = !profiled && d.peak_flops <= 0;
  const auto start = std::chrono::steady_clock::now();
  KernelFigures figures;
  const auto measure = [&] { figures = measure_kernel_figures(*backend_, graph_, d.op_latency_s, basics); };
  if (world_ && world_->size() > 1) {
    if (own_cores()) {
      world_->all_gather(0, "the ranks lining up to measure their kernels");
      measure();
    } else {
      world_->on_lead(measure, "measuring the kernels");
    }
    figures = slowest_kernel_figures(*world_, graph_, figures);
  } else {
    measure();
  }
  d.cpu_flops_by_op = figures.rates.beyond_cache;
  d.cpu_flops_by_op_in_cache = figures.rates.in_cache;
  d.cpu_op_latency_by_op = figures.fixed_s;
  d.cpu_private_cache_bytes = private_cache_bytes();
  d.cpu_beyond_cache_reach_bytes = static_cast<double>(kColdBytes);
  d.cpu_threads = figures.threads;
  if (basics) {
    d.cpu_op_latency_s = figures.latency_s;
    d.cpu_flops = figures.best_flops;
    d.cpu_flops_by_size = figures.flops_by_size;
    d.cpu_bytes_by_size = figures.bytes_by_size;
  }
  const std::string turns = measure_turns(/*users_figures=*/!profiled && d.peak_flops > 0);
  const auto timed = std::count_if(d.cpu_flops_by_op.begin(), d.cpu_flops_by_op.end(), [](double r) { return r > 0; });
  const double took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const int ranks = world_ ? world_->size() : 1;
  // The GEMMs' factors are fitted against the rates just set.
  const std::string fitted = fixed_costs_said(d.cpu_op_latency_by_op) +
                             fit_gemms_in_step(graph_, topology_.get(), ranks, figures.gemms_within_s,
                                               figures.rates.gemms_beyond_cache, d) +
                             turns;
  char note[260];
  if (!basics) {
    std::snprintf(note, sizeof note, "%d ops of the program timed at start (%.0f ms)", static_cast<int>(timed), took_ms);
    device_note_ = note + fitted;
    return;
  }
  const auto bytes_rate = [&](size_t i) { return i < figures.bytes_by_size.size() ? figures.bytes_by_size[i].second : 0.0; };
  std::snprintf(note, sizeof note,
                "matmul %.1f GFLOP/s at best, memory %.1f GB/s in the caches and %.1f GB/s beyond, %.1f us per kernel, "
                "%d ops of the program timed, measured at start in %.0f ms (%s)",
                d.cpu_flops / 1e9, bytes_rate(1) / 1e9, bytes_rate(2) / 1e9,
                (d.op_latency_s > 0 ? d.op_latency_s : figures.latency_s) * 1e6, static_cast<int>(timed), took_ms,
                profile_notes_.empty() ? "no profile" : "the profile's kernels ran other threads");
  device_note_ = note + fitted;
}

// Where the job's ranks share PUs, what taking turns on them leaves each of its share by
// stretch of compute between collectives (profile_sharing.h), for the model to charge at
// each collective, and a hand-off to the communication thread as they then pay it
// (profile_turns.h; the larger of it and the one timed alone is kept), unless the profile
// gave them (measured over several rounds, where bind's one round is noisy); what it says,
// "" where they do not share, or the user gave the device's figures. Collective over the job.
std::string Job::measure_turns(bool users_figures) {
  partitioner::DeviceOverrides& d = description_.partitioning.search.device;
  if (users_figures || !world_ || world_->size() < 2 || !comm_ || !topology_ || own_cores()) return "";
  const double share = partitioner::cpu_share(*topology_, topology_->devices().front(), kernels::cpu_threads());
  if (!(share < 1)) return "";
  if (!d.turns_by_stretch.empty()) return "; turns on the shared PUs as the profile measured them";
  const SharedPuTurns turns = measure_shared_pu_turns(*world_, *comm_, *backend_, share, 1, 1);
  d.turns_by_stretch = turns.by_stretch;
  d.turns_by_stretch_filled = turns.by_stretch_filled;
  std::string said = "; " + partitioner::turns_said(d.turns_by_stretch, d.turns_by_stretch_filled) + ", taking turns";
  if (!turns.handoff_s) return said;
  // A hand-off as the step meets it, taking turns: the overlapped schedule pays it at every
  // collective, and a hand-off timed alone left it out.
  d.handoff_s = std::max(d.handoff_s, *turns.handoff_s);
  char text[80];
  std::snprintf(text, sizeof text, "; a hand-off to the communication thread then %.1f us", *turns.handoff_s * 1e6);
  return said + text;
}

// Without a profile the links are the defaults of their kind (10 GB/s for shared memory),
// 2-5x off here: the ranks ping-pong across each level of the job for a few ms, and the
// collectives are then synthesized and costed on what the links do.
void Job::calibrate_links() {
  if (!comm_ || comm_->size() < 2 || !topology_) return;
  const BriefLinks measured = measure_links_briefly(*comm_, *topology_);
  std::vector<launcher::LinkModel> links;
  std::string said;
  for (const launcher::Level& level : topology_->levels()) {
    links.push_back(level.link);
    for (const partitioner::LevelProfile& l : measured.levels) {
      if (l.name != level.name) continue;
      links.back() = {l.latency_s, l.bandwidth_Bps};
      char text[120];
      std::snprintf(text, sizeof text, "%s%s %.1f us, %.1f GB/s", said.empty() ? "" : ", ", l.name.c_str(),
                    l.latency_s * 1e6, l.bandwidth_Bps / 1e9);
      said += text;
    }
  }
  *topology_ = topology_->with_links(links);
  partitioner::DeviceOverrides& d = description_.partitioning.search.device;
  if (d.handoff_s <= 0) d.handoff_s = measured.handoff_s;
  if (d.peer_rewrite_Bps <= 0) {
    const PeerRewrite rewrite = measure_peer_rewrite(*comm_, *topology_, *backend_, &graph_);
    d.peer_rewrite_Bps = rewrite.any_Bps;
    d.peer_rewrite_by_op = rewrite.by_op;
  }
  char text[160];
  std::snprintf(text, sizeof text, "; %.1f us per hand-off to the communication thread", d.handoff_s * 1e6);
  if (d.peer_rewrite_Bps > 0) {
    std::snprintf(text + std::strlen(text), sizeof text - std::strlen(text),
                  "; memory a peer read rewritten at %.1f GB/s more (an add)", d.peer_rewrite_Bps / 1e9);
  }
  device_note_ += (device_note_.empty() ? "" : "; ") + std::string("links ") + said + text;
}

// The profile's figures replace the defaults: the plan is costed, and the collectives'
// schedules synthesized, with the measured links and device throughput.
bool Job::apply_profile(const std::string& path, int devices) {
  // A rank alone has no topology to plan on, but its profile was taken on the one
  // `spmd profile` discovers: that one is compared, so that a profile of this very job matches.
  const launcher::Topology base = topology_ ? *topology_
                                  : world_  ? launcher::discover_job(world_->comm(), std::nullopt,
                                                                     launcher::TopologySource{}.network, world_->timeout())
                                            : partitioner::flat_topology(devices);
  partitioner::Profiled p =
      partitioner::apply_profile(partitioner::read_profile(path), path, base, description_.partitioning.search.device,
                                 kernels::cpu_threads(),
                                 world_ ? collectives::native_collective_settings() : std::map<std::string, std::string>{});
  description_.partitioning.search.device = p.device;
  profile_notes_ = std::move(p.said);
  if (topology_ || devices > 1) topology_ = std::make_unique<launcher::Topology>(std::move(p.topology));
  return p.kernels;
}

}  // namespace spmd::runtime
