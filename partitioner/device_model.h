// What one device can do, for the cost model: peak f32 FLOP/s, memory bandwidth and memory
// capacity. From the topology where it says so (a GPU's or a NUMA node's memory), else from
// a table of device models, and overridable by the user; to be replaced by measured figures.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "launcher/topology.h"
#include "partitioner/kernel_rates.h"

namespace spmd::partitioner {

// The other data, in caches of the rank's core, that its ranks write before a profile times a
// collective cold (DeviceModel::collective_cold_s).
constexpr double kCollectiveColdCaches = 4;
// The matmul the turns curves time their stretches with (runtime/profile_sharing.h), n^3,
// and the bytes of its operands: the plain curve's kernels keep that much in a core's caches.
constexpr int64_t kTurnsMatmulSize = 96;
constexpr double kTurnsMatmulBytes = 3.0 * kTurnsMatmulSize * kTurnsMatmulSize * sizeof(float);
// From how many times those bytes a rank's step meets the filled curve in full.
constexpr double kTurnsRefilledFrom = 4;

struct DeviceModel {
  std::string name;            // "V100-SXM3-32GB", "CPU: 4 cores"
  double peak_flops = 0;       // f32 FLOP/s
  double memory_Bps = 0;       // bytes/s between the device and its memory
  std::int64_t memory_bytes = 0;
  // Measured (a profile): the fixed cost of running one kernel, and the FLOP/s reached by
  // problems of a given size, (FLOP per call, FLOP/s) by increasing size, in place of
  // peak_flops (small problems do not reach the peak).
  double op_latency_s = 0;
  RateCurve flops_by_size;
  // Measured (at bind): the fixed cost of each op of the registry, by its index in
  // ir::all_ops(), 0 where not measured (op_latency_s then holds): kernels differ by 10x in
  // it (runtime/program_ops.h, measure_op_fixed_costs).
  std::vector<double> op_latency_by_op;
  // The fixed cost of op `op` (an index in ir::all_ops()): its own, else op_latency_s. O(1).
  double op_latency(size_t op) const {
    return op < op_latency_by_op.size() && op_latency_by_op[op] > 0 ? op_latency_by_op[op] : op_latency_s;
  }
  // Measured (a profile): the round trip of handing a collective to the runtime's
  // communication thread and learning it is done (runtime/comm_stream.h), paid by every
  // overlapped collective on a host backend: half before it starts, half after it ends.
  double handoff_s = 0;
  // Measured (a profile): matmul FLOP/s by m, n and k, in place of flops_by_size for ops
  // that contract two operands (kernel_rates.h).
  GemmRates flops_by_shape;
  // Measured (at bind, without a profile): bytes/s of memory-bound ops by the bytes they
  // move, (bytes per call, bytes/s) by increasing size, in place of memory_Bps: data
  // within the caches moves many times faster than data from memory.
  RateCurve bytes_by_size;
  // Measured (at bind): the FLOP/s (as op_flops counts them) of each op of the registry,
  // by its index in ir::all_ops(), 0 where not measured: in place of the roofline for
  // every op that is not a GEMM, whose work per point the registry does not say (a gelu's
  // tanh costs tens of FLOP per element, an add one; a transpose moves its bytes by stride).
  std::vector<double> flops_by_op;
  // Measured (at bind): the same on operands in a core's cache, by op index, 0 where not
  // measured apart (flops_by_op then holds for both). An op whose data the step touched
  // within private_cache_bytes since it last touched them runs at this rate: an optimizer
  // update of a model whose whole step fits a core's cache ran 2-4x its rate on operands
  // from beyond the last-level cache, which flops_by_op holds for ops of MiB.
  std::vector<double> flops_by_op_in_cache;
  // The cache of the core a rank runs on (its L2), 0 where not known: the data an op's
  // operands stay within to run at flops_by_op_in_cache.
  std::int64_t private_cache_bytes = 0;
  // The data touched since at which flops_by_op was measured (at bind: copies filling
  // 64 MiB, taken in turn), 0 where not known. An op whose data the step touched within
  // private_cache_bytes and this since runs at a rate between flops_by_op_in_cache and
  // flops_by_op, linear in the log of that reach: from the caches between (gpt's residual
  // adds of 1.5 MiB on 2 ranks ran 21-45 us where the rate beyond the caches said 67.5).
  double beyond_cache_reach_bytes = 0;
  // Measured (at bind): how much longer a GEMM moving fewer than
  // gemm_after_writes_below_bytes takes in a step than its rates say, after the step's other
  // kernels wrote over the nearest caches and its operands were just written (by kernels
  // that split their work among a rank's threads otherwise: runtime/program_ops.h): the
  // program's own such GEMMs so timed over their model times. Multiplies their compute
  // time; 1: none.
  double gemm_after_writes = 1;
  double gemm_after_writes_below_bytes = 0;
  // Measured (at bind): the same for GEMMs of gemm_after_writes_below_bytes or more, timed
  // on copies of their operands from beyond the caches, as a step reads its weights and
  // activations of MiB; apart for those of a batch of products (attention's), which a
  // matmul grid by m, n and k does not time: gpt's [8,4,128,64] x [8,4,128,64]^T ran
  // 108 GFLOP/s so where the grid's 128 x 128 x 64 said 213, its [8,128,256] x [256,1024]
  // 159-169 where the grid said 168-179. Multiplies their compute time; 1: none.
  double gemm_beyond_cache = 1;
  double batched_gemm_beyond_cache = 1;
  // Measured (a profile): what a collective between devices waits for the slowest rank
  // beyond its own time, sync_wait_s + sync_wait_fraction x the compute since the previous
  // one: ranks' kernels take unequal times (system noise; Hoefler et al. 2010, "Characterizing
  // the influence of system noise on large-scale applications by simulation"), and every
  // collective waits for the last to arrive. 0 where not measured.
  double sync_wait_s = 0;
  double sync_wait_fraction = 0;
  // Measured at bind where ranks share PUs (runtime/profile_sharing.h): the part of their
  // share of the PUs that ranks taking turns in lockstep keep over a stretch of compute
  // between two collectives, by the stretch's seconds at the share's rates (a curve, held
  // at its ends). A waiting rank yields its PU to one that may be waiting too: 4 ranks on
  // 2 cores kept 43-65% over 20 us stretches, 62-95% over 400 us and 87-94% over 17-34 ms.
  // Empty: all of it.
  RateCurve turns_by_stretch;
  // The same where each rank's kernels fill a core's cache with their own data between
  // turns, which each turn then refills (measured with copies of the operands filling it);
  // charged by the bytes a rank's step holds (its memory plan's peak): turn_refill_part.
  // 4 ranks on 2 cores kept 88-92% over 1.6 ms where turns_by_stretch kept 95-100%, and gpt
  // (20-30 MiB a rank) was predicted at 0.85-0.89 of measured from that alone, 0.92-0.98
  // from this. Charged by the bytes each stretch touched instead, gpt under ZeRO (a
  // collective every few hundred KiB touched) got little of it: 0.88-0.89. Empty:
  // turns_by_stretch whatever the bytes.
  RateCurve turns_by_stretch_filled;
  // The time ranks sharing PUs lose over a stretch of `stretch_s` of compute, each rank's
  // step holding `held_bytes`, at its end: stretch x (1 / kept - 1); 0 where turns cost
  // nothing. O(points).
  double turn_seconds(double stretch_s, double held_bytes = 0) const;
  // The part of the filled curve's loss beyond the plain one's that a step holding
  // `held_bytes` a rank meets: none up to the plain curve's kernels' bytes
  // (kTurnsMatmulBytes), all from kTurnsRefilledFrom times them, linear in the log between.
  // Not by the cache's size: mlp (0.5-1.2 MiB a rank, the ranks sharing a core holding half
  // its 2 MiB) ran its kernels at 1.19-1.26x their time alone in a step on 4 ranks over 2
  // cores, each rank's turn alternating with its partner's (a trace on one clock), as the
  // filled curve has it; charged as caches written over (a quarter of it, for mlp), the
  // steps of dp, zero and megatron were predicted at 0.80-0.89 of measured, 0.85-0.94 so.
  // O(1).
  double turn_refill_part(double held_bytes) const;
  // The rank's own compute each step outside its program, at the share's rates: before its
  // first op (feeding the batch) and after its last (checking that its values are finite).
  // The caller adds their time to the step (runtime::Job::outside_program_seconds); the
  // simulator counts them in the first and the last stretch, whose turns and waits for the
  // slowest rank it charges: mlp on 4 ranks over 2 cores fed its batch for 74 us at the
  // share before a first stretch of 50 us. 0: none.
  double step_lead_in_s = 0, step_lead_out_s = 0;
  // Measured (at bind, or a profile) where processes share a node: the bytes/s of the extra
  // time a kernel takes to write over memory a peer process read since it was last written
  // (its copies invalidated a cache line at a time: runtime/profile_rewrite.h). Charged for
  // the bytes of a result laid over an operand of a collective between devices
  // (reuse_distance.h). 0: not charged (GPUs, whose peers copy by DMA; not measured). By
  // op index, an op's own where measured (an optimizer update, slower per line than an
  // add, pays more), else 0 and peer_rewrite_Bps holds.
  double peer_rewrite_Bps = 0;
  std::vector<double> peer_rewrite_by_op;
  // Whether the executor lays the buffers collectives move apart from the rest of its arena
  // (PeerBuffers::apart, memory_plan.h): host devices, more than one. Its planned peak is
  // then that plan's, which the simulator predicts.
  bool moved_buffers_apart = false;
  // The rate op `op` (an index in ir::all_ops()) rewrites what peers read at: its own, else
  // peer_rewrite_Bps; 0 where not charged. O(1).
  double peer_rewrite_rate(size_t op) const {
    return op < peer_rewrite_by_op.size() && peer_rewrite_by_op[op] > 0 ? peer_rewrite_by_op[op] : peer_rewrite_Bps;
  }
  // Whether any op is charged for rewriting what peers read. O(ops).
  bool charges_peer_rewrites() const;
  // Measured (a profile) on a host backend: how much longer a collective between devices
  // takes in a step than lined up in a loop, once the step's kernels wrote over a core's
  // cache since the last (the transport's buffers and the peers' lines then come from
  // beyond it: runtime/profile_cold.h), (bytes, extra seconds) by increasing bytes, held at
  // its ends. 2 ranks here: an all-reduce of 32 KiB 9 us lined up, 19 us after 8 MiB of
  // other writes; of 256 KiB 28 and 44 us; of 4 MiB, beyond the cache anyway, alike.
  // Empty: not charged.
  RateCurve collective_cold_s;
  // The ranks whose steps write over one core's cache: those bound to the same PUs, over
  // the PUs (2 for 4 ranks on 2 cores), at least 1. What the step touched since an op's
  // data or a collective's last touch counts that many times: each rank's turns in between
  // wrote as much (gpt on 4 ranks over 2 cores, its optimizer updates and adds of MiB: 1.6x
  // their predicted time in a turn; its predictions with a profile went from 0.87-0.91 of
  // measured to 0.89-0.94).
  double ranks_per_cache = 1;
  // The extra seconds of a collective of `bytes` after the step's kernels touched
  // `touched_bytes` since the last one or since its data's last touch (the simulator takes
  // the more): all of collective_cold_s's where the ranks sharing
  // a cache touched kCollectiveColdCaches x private_cache_bytes (as measured), none within a
  // quarter of the cache, linear in the log between (2 MiB of writes on a core of 2 MiB
  // gave 30-60% of it, 512 KiB none); all of it where the cache is not known. Less, where
  // turns are charged, what a one-float collective gets: turns_by_stretch was measured
  // with such line-ups, after kernels too. O(points).
  double collective_cold_seconds(double bytes, double touched_bytes) const;
  // The part of a core's cache written over by `touched_bytes` of a stretch's kernels on
  // each of ranks_per_cache ranks, as collective_cold_seconds and turn_seconds charge it: 0
  // within a quarter of the cache, 1 at kCollectiveColdCaches caches, linear in the log
  // between; 1 where the cache is not known. O(1).
  double cache_written_part(double touched_bytes) const;
  // The runtime's communication thread has no core of its own: a CPU device of one
  // processing unit per rank. It then runs only while the main thread waits (a thread woken
  // on a busy core waits for it), so collectives overlap nothing (simulator.h).
  bool comm_shares_core = false;
};

// GPU models by the name hwloc gives them (its GPUModel info, "Tesla V100-SXM3-32GB-H"
// matches the row "V100-SXM3-32GB"): f32 peak without tensor cores and HBM bandwidth from
// the vendors' data sheets.
//   V100-SXM3-32GB  32 GiB  15.7 TFLOP/s   900 GB/s
//   V100-SXM2-16GB  16 GiB  15.7 TFLOP/s   900 GB/s
//   A100-SXM4-40GB  40 GiB  19.5 TFLOP/s  1555 GB/s
//   A100-SXM4-80GB  80 GiB  19.5 TFLOP/s  2039 GB/s
//   H100-SXM5-80GB  80 GiB  66.9 TFLOP/s  3350 GB/s
//   H200            141 GB  66.9 TFLOP/s  4800 GB/s
const std::vector<DeviceModel>& gpu_models();

// The table row whose name `gpu_name` contains; nullptr when none does.
const DeviceModel* find_gpu_model(const std::string& gpu_name);

// The part of a rank's measure alone, with `threads` kernel threads, that CPU device `d`
// of `topology` gets when every rank bound to the same PUs runs: min(1, PUs / (ranks x
// threads)), or 1 / ranks where `threads` is not known (0). O(devices).
double cpu_share(const launcher::Topology& topology, const launcher::Device& d, int threads);

// The user's figures, where given (0: not given).
struct DeviceOverrides {
  double peak_flops = 0;
  std::int64_t memory_bytes = 0;
  double memory_Bps = 0;  // measured (a profile), in place of the model's
  double op_latency_s = 0;
  RateCurve flops_by_size;
  RateCurve bytes_by_size;  // measured (a profile), in place of cpu_bytes_by_size
  double handoff_s = 0;
  GemmRates flops_by_shape;
  double sync_wait_s = 0, sync_wait_fraction = 0;
  double peer_rewrite_Bps = 0;  // measured (at bind, or a profile)
  std::vector<double> peer_rewrite_by_op;
  // Measured in place of the table's guess for a CPU device (a job bound without a
  // profile: runtime/profile_kernels.h), by a rank alone on its cores with `cpu_threads`
  // kernel threads: matmul FLOP/s at best and by size. When all the ranks bound to the
  // same PUs run, each gets min(1, PUs / (ranks x min(cpu_threads, PUs))) of it (1 / ranks
  // where the threads are not known): all of it where the rank is alone. The user's and a
  // profile's figures win over these.
  int cpu_threads = 0;
  double cpu_flops = 0;
  RateCurve cpu_flops_by_size;
  RateCurve cpu_bytes_by_size;  // memory-bound ops' bytes/s by bytes moved
  // Measured at bind on the program's own ops (runtime/program_ops.h), by a rank alone:
  // FLOP/s by op index (DeviceModel::flops_by_op), shared out as cpu_flops is.
  std::vector<double> cpu_flops_by_op;
  // The same on operands in a core's cache (DeviceModel::flops_by_op_in_cache), and the
  // cache's bytes (DeviceModel::private_cache_bytes).
  std::vector<double> cpu_flops_by_op_in_cache;
  std::int64_t cpu_private_cache_bytes = 0;
  double cpu_beyond_cache_reach_bytes = 0;  // DeviceModel::beyond_cache_reach_bytes
  // DeviceModel::gemm_after_writes and its bound, and gemm_beyond_cache and
  // batched_gemm_beyond_cache, as measured (0: not measured).
  double cpu_gemm_after_writes = 0, cpu_gemm_after_writes_below_bytes = 0;
  double cpu_gemm_beyond_cache = 0, cpu_batched_gemm_beyond_cache = 0;
  // The kernel's fixed cost measured by a rank alone, shared out as cpu_flops is: ranks
  // taking turns on a PU each pay theirs on it (4 ranks on 2 cores ran mlp's 50 small
  // kernels at about twice the cost measured alone). op_latency_s wins.
  double cpu_op_latency_s = 0;
  // Each op's own fixed cost measured at bind by a rank alone, by op index (0: not
  // measured), shared out as cpu_op_latency_s is.
  std::vector<double> cpu_op_latency_by_op;
  // Each op's own fixed cost as it stands, in place of cpu_op_latency_by_op (a refit's).
  std::vector<double> op_latency_by_op;
  // FLOP/s by op index as they stand, in place of cpu_flops_by_op and
  // cpu_flops_by_op_in_cache (a refit's).
  std::vector<double> flops_by_op;
  std::vector<double> flops_by_op_in_cache;
  // Measured at bind where ranks share PUs (runtime/profile_sharing.h): the part of their
  // share of the PUs ranks taking turns keep, by stretch of compute between collectives
  // (DeviceModel::turns_by_stretch, and turns_by_stretch_filled). Empty: not measured.
  RateCurve turns_by_stretch;
  RateCurve turns_by_stretch_filled;
  // Set by a bound job: DeviceModel::step_lead_in_s and step_lead_out_s.
  double step_lead_in_s = 0, step_lead_out_s = 0;
  // Measured (a profile): DeviceModel::collective_cold_s, for host memory.
  RateCurve collective_cold_s;
};

// The model of the topology's devices: the smallest memory of any device stands for all.
// GPUs: the row of the table matching their memory where hwloc reports it, else the
// V100-SXM3-32GB row (launcher::Device does not carry hwloc's GPU model name yet). CPU
// devices: their NUMA-local memory, 32 f32 FLOP per cycle (two AVX2 FMA units) at 2.5 GHz
// per processing unit (or the measured cpu_flops), and 10 GB/s of memory bandwidth per
// processing unit.
DeviceModel device_model(const launcher::Topology& topology, const DeviceOverrides& overrides = {});

// The memory per device a plan must fit in: `asked` where positive (--memory-limit), else
// the device's memory.
std::int64_t memory_limit(std::int64_t asked, const DeviceModel& device);

}  // namespace spmd::partitioner
