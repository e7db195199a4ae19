#include "partitioner/device_model.h"

#include <algorithm>
#include <cmath>

namespace spmd::partitioner {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kCoreFlops = 32 * 2.5e9;  // AVX2: 2 FMA units x 8 f32 lanes x 2 FLOP, 2.5 GHz
constexpr double kCoreMemoryBps = 10e9;

DeviceModel gpu(const std::string& name, double gib, double tflops, double gbps) {
  DeviceModel m;
  m.name = name, m.peak_flops = tflops * 1e12, m.memory_Bps = gbps * 1e9;
  m.memory_bytes = static_cast<std::int64_t>(gib * kGiB);
  return m;
}

// The table's row for the model hwloc names, else the row of the GPU's memory, else V100.
DeviceModel gpu_of(const launcher::Device& d) {
  if (const DeviceModel* named = find_gpu_model(d.model)) {
    DeviceModel m = *named;
    if (d.memory_bytes > 0) m.memory_bytes = d.memory_bytes;
    return m;
  }
  for (const DeviceModel& m : gpu_models()) {
    if (d.memory_bytes > 0 && m.memory_bytes == d.memory_bytes) return m;
  }
  DeviceModel m = *find_gpu_model("V100-SXM3-32GB");
  if (d.memory_bytes > 0) m.memory_bytes = d.memory_bytes;
  return m;
}

// A rank alone measured with its threads, on as many of the PUs as it has threads; together,
// the ranks' threads take turns on the PUs only where they outnumber them (4 ranks of 1
// thread on 2 PUs: half each, not a quarter). A rank alone keeps what it measured, however
// many threads it ran: a process of 2 threads planned on one synthetic core was costed at
// half its rate, and gpt's step predicted at 1.9x what it took.
double share_of(int pus, int sharing, int threads) {
  if (threads <= 0) return 1.0 / sharing;
  return std::min(1.0, static_cast<double>(pus) / (sharing * std::min(threads, pus)));
}

// A CPU device's PUs, shared evenly by the `sharing` ranks bound to the same ones (ranks
// oversubscribed onto fewer cores run each other's share of the time).
DeviceModel cpu_of(const launcher::Device& d, int sharing, const DeviceOverrides& measured) {
  const int pus = std::max(1, launcher::processing_units(d));
  std::string name = "CPU: " + std::to_string(pus) + (pus == 1 ? " processing unit" : " processing units");
  if (sharing > 1) name += " shared by " + std::to_string(sharing) + " ranks";
  DeviceModel m;
  m.name = name, m.peak_flops = pus * kCoreFlops / sharing, m.memory_Bps = pus * kCoreMemoryBps / sharing;
  m.memory_bytes = d.memory_bytes;
  m.comm_shares_core = launcher::processing_units(d) > 0 && pus <= sharing;  // unknown PUs: not assumed
  const double share = share_of(pus, sharing, measured.cpu_threads);
  if (measured.cpu_flops > 0) {
    m.peak_flops = measured.cpu_flops * share;
    for (const auto& [size, rate] : measured.cpu_flops_by_size) m.flops_by_size.emplace_back(size, rate * share);
  }
  for (const auto& [size, rate] : measured.cpu_bytes_by_size) m.bytes_by_size.emplace_back(size, rate * share);
  for (double rate : measured.cpu_flops_by_op) m.flops_by_op.push_back(rate * share);
  for (double rate : measured.cpu_flops_by_op_in_cache) m.flops_by_op_in_cache.push_back(rate * share);
  m.private_cache_bytes = measured.cpu_private_cache_bytes;
  m.ranks_per_cache = std::max(1.0, static_cast<double>(sharing) / pus);
  m.beyond_cache_reach_bytes = measured.cpu_beyond_cache_reach_bytes;
  // Ratios of times, taken as they are: not shared out.
  if (measured.cpu_gemm_after_writes > 0) m.gemm_after_writes = measured.cpu_gemm_after_writes;
  if (measured.cpu_gemm_beyond_cache > 0) m.gemm_beyond_cache = measured.cpu_gemm_beyond_cache;
  if (measured.cpu_batched_gemm_beyond_cache > 0) m.batched_gemm_beyond_cache = measured.cpu_batched_gemm_beyond_cache;
  m.gemm_after_writes_below_bytes = measured.cpu_gemm_after_writes_below_bytes;
  if (measured.cpu_op_latency_s > 0) m.op_latency_s = measured.cpu_op_latency_s / share;
  for (double seconds : measured.cpu_op_latency_by_op) m.op_latency_by_op.push_back(seconds / share);
  if (!m.bytes_by_size.empty()) m.memory_Bps = m.bytes_by_size.back().second;
  return m;
}

// How many devices of `topology` run on exactly `d`'s PUs (itself included).
int sharing_of(const launcher::Topology& topology, const launcher::Device& d) {
  int n = 0;
  for (const launcher::Device& e : topology.devices()) n += e.node == d.node && e.cpuset == d.cpuset;
  return std::max(1, n);
}

}  // namespace

const std::vector<DeviceModel>& gpu_models() {
  static const std::vector<DeviceModel> table = {
      gpu("V100-SXM3-32GB", 32, 15.7, 900),  gpu("V100-SXM2-16GB", 16, 15.7, 900),
      gpu("A100-SXM4-40GB", 40, 19.5, 1555), gpu("A100-SXM4-80GB", 80, 19.5, 2039),
      gpu("H100-SXM5-80GB", 80, 66.9, 3350), gpu("H200", 141e9 / kGiB, 66.9, 4800),
  };
  return table;
}

double cpu_share(const launcher::Topology& topology, const launcher::Device& d, int threads) {
  return share_of(std::max(1, launcher::processing_units(d)), sharing_of(topology, d), threads);
}

const DeviceModel* find_gpu_model(const std::string& gpu_name) {
  for (const DeviceModel& m : gpu_models()) {
    if (gpu_name.find(m.name) != std::string::npos) return &m;
  }
  return nullptr;
}

double DeviceModel::turn_seconds(double stretch_s, double held_bytes) const {
  if (turns_by_stretch.empty() || !(stretch_s > 0)) return 0;
  double kept = rate_at(turns_by_stretch, stretch_s, 1.0);
  if (!turns_by_stretch_filled.empty() && held_bytes > 0) {
    kept += turn_refill_part(held_bytes) * (rate_at(turns_by_stretch_filled, stretch_s, kept) - kept);
  }
  return kept > 0 && kept < 1 ? stretch_s * (1 / kept - 1) : 0;
}

double DeviceModel::turn_refill_part(double held_bytes) const {
  if (!(held_bytes > kTurnsMatmulBytes)) return 0;
  return std::min(1.0, std::log(held_bytes / kTurnsMatmulBytes) / std::log(kTurnsRefilledFrom));
}

double DeviceModel::cache_written_part(double touched_bytes) const {
  if (private_cache_bytes <= 0) return 1;
  if (!(touched_bytes > 0)) return 0;
  const double least = static_cast<double>(private_cache_bytes) / 4;
  const double most = static_cast<double>(private_cache_bytes) * kCollectiveColdCaches;
  return std::clamp(std::log(touched_bytes * ranks_per_cache / least) / std::log(most / least), 0.0, 1.0);
}

double DeviceModel::collective_cold_seconds(double bytes, double touched_bytes) const {
  if (collective_cold_s.empty() || !(touched_bytes > 0)) return 0;
  // Where turns are charged, their curve's line-ups (one float each) met the caches written
  // over too: it holds that much of it.
  const double held = turns_by_stretch.empty() ? 0.0 : rate_at(collective_cold_s, sizeof(float), 0.0);
  const double extra = std::max(0.0, rate_at(collective_cold_s, bytes, 0.0) - held);
  return extra * cache_written_part(touched_bytes);
}

bool DeviceModel::charges_peer_rewrites() const {
  return peer_rewrite_Bps > 0 || std::any_of(peer_rewrite_by_op.begin(), peer_rewrite_by_op.end(), [](double r) { return r > 0; });
}

DeviceModel device_model(const launcher::Topology& topology, const DeviceOverrides& overrides) {
  DeviceModel model;
  bool first = true;
  for (const launcher::Device& d : topology.devices()) {
    DeviceModel m = d.kind == launcher::DeviceKind::gpu ? gpu_of(d) : cpu_of(d, sharing_of(topology, d), overrides);
    if (first || m.memory_bytes < model.memory_bytes || (m.memory_bytes == model.memory_bytes && m.peak_flops < model.peak_flops)) model = m;
    first = false;
  }
  if (overrides.peak_flops > 0) model.peak_flops = overrides.peak_flops;
  if (overrides.memory_bytes > 0) model.memory_bytes = overrides.memory_bytes;
  if (overrides.memory_Bps > 0) model.memory_Bps = overrides.memory_Bps;
  if (overrides.op_latency_s > 0) model.op_latency_s = overrides.op_latency_s;
  if (!overrides.flops_by_size.empty()) model.flops_by_size = overrides.flops_by_size;
  if (!overrides.bytes_by_size.empty()) model.bytes_by_size = overrides.bytes_by_size;
  if (overrides.handoff_s > 0) model.handoff_s = overrides.handoff_s;
  if (!overrides.flops_by_shape.empty()) model.flops_by_shape = overrides.flops_by_shape;
  if (!overrides.flops_by_op.empty()) model.flops_by_op = overrides.flops_by_op;
  if (!overrides.op_latency_by_op.empty()) model.op_latency_by_op = overrides.op_latency_by_op;
  if (!overrides.flops_by_op_in_cache.empty()) model.flops_by_op_in_cache = overrides.flops_by_op_in_cache;
  if (overrides.sync_wait_s > 0) model.sync_wait_s = overrides.sync_wait_s;
  if (overrides.sync_wait_fraction > 0) model.sync_wait_fraction = overrides.sync_wait_fraction;
  // A GPU's peers copy by DMA from its own memory: no core of another process caches it.
  const bool host_memory = std::none_of(topology.devices().begin(), topology.devices().end(),
                                        [](const launcher::Device& d) { return d.kind == launcher::DeviceKind::gpu; });
  model.moved_buffers_apart = host_memory && topology.num_devices() > 1;
  if (host_memory) {
    model.peer_rewrite_Bps = overrides.peer_rewrite_Bps;
    model.peer_rewrite_by_op = overrides.peer_rewrite_by_op;
    model.collective_cold_s = overrides.collective_cold_s;
  }
  model.turns_by_stretch = overrides.turns_by_stretch;
  model.turns_by_stretch_filled = overrides.turns_by_stretch_filled;
  model.step_lead_in_s = overrides.step_lead_in_s;
  model.step_lead_out_s = overrides.step_lead_out_s;
  return model;
}

std::int64_t memory_limit(std::int64_t asked, const DeviceModel& device) {
  return asked > 0 ? asked : device.memory_bytes;
}

}  // namespace spmd::partitioner
