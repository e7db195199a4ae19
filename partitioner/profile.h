// A profile of the hardware, measured by `spmd profile` (runtime/profile_run.h), that the
// cost model takes in place of its default figures: the device's matmul and memory-bound
// throughput, and each topology level's link (latency and bandwidth fitted to measured
// transfers). Stored as JSON, keyed by the fingerprint of the topology it was measured on.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "launcher/topology.h"
#include "partitioner/device_model.h"

namespace spmd::partitioner {

struct LevelProfile {
  std::string name;          // the topology level, as `spmd topo` names it
  double latency_s = 0;      // alpha of t = alpha + bytes / bandwidth, least squares
  double bandwidth_Bps = 0;  // 1 / beta
  double fit_error = 0;      // relative RMS error of the fit over the measured sizes
  // Each collective algorithm measured over the job's ranks across this level, with its own
  // alpha, beta and gamma: the schedules' costs there (collectives/synthesize.h).
  std::vector<launcher::MeasuredAlgorithm> algorithms;
};

struct Profile {
  std::string fingerprint;  // launcher::fingerprint of the topology measured
  double matmul_flops = 0;  // f32 FLOP/s of the backend's matmul, best over the shapes tried
  double memory_Bps = 0;    // bytes/s moved by an elementwise op on data beyond the caches
  double op_latency_s = 0;  // a kernel on one element: the fixed cost of an op
  // The kernel threads of a rank that measured the kernels (kernels::cpu_threads): their
  // figures hold for a job whose ranks run as many. 0: not recorded (older profiles).
  int kernel_threads = 0;
  double handoff_s = 0;     // a collective's round trip to the communication thread; 0: not measured
  // What a collective waits for the slowest rank: sync_wait_s + sync_wait_fraction x the
  // compute since the previous one (device_model.h); 0: not measured (older profiles, 1 rank).
  double sync_wait_s = 0, sync_wait_fraction = 0;
  // Writing over memory a peer process on the node read, the extra time's bytes/s
  // (device_model.h); 0: not measured (older profiles, no peer on a node).
  double peer_rewrite_Bps = 0;
  std::map<std::string, double> peer_rewrite_by_op;  // an optimizer update's own, by op name
  // Where the ranks take turns on their PUs: by primitive ("all_reduce"), MPI's own
  // collective's time in a step over the fastest of ours at each size timed, (bytes, ratio)
  // by increasing bytes (runtime/profile_turns.h); > 1: MPI's waits longer there. A point at
  // 0 bytes holds for every size (older profiles timed one ratio per primitive). Empty: not
  // measured (ranks on PUs of their own, older profiles).
  std::map<std::string, RateCurve> native_in_turns;
  // The largest size native_in_turns timed: above it a collective's rounds outweigh the
  // turns, and MPI's own is chosen as lined up (its all-gather in a step over ours on 4
  // ranks over 2 cores: 1.1-1.3x at 256 KiB and 4 MiB, 1.03x at 16 MiB, 0.95x at 64 MiB).
  // 0: not recorded (every size).
  double native_in_turns_bytes = 0;
  // How much longer a collective takes in a step whose kernels wrote over a core's cache
  // since the last than lined up (DeviceModel::collective_cold_s): (bytes, extra seconds)
  // by increasing bytes. Empty: not measured (older profiles, 1 rank, a GPU's backend).
  RateCurve collective_cold_s;
  // Where the ranks take turns on their PUs: the share of the PUs each rank gets
  // (cpu_share), the part of it they keep by stretch of compute between collectives
  // (DeviceModel::turns_by_stretch, each point the median of several rounds: bind's one
  // round is noisy), and a hand-off to the communication thread as they then pay it
  // (runtime/profile_turns.h). A job whose ranks get the same share takes these in place of
  // measuring them at bind. 0 and empty: not measured (ranks on PUs of their own, older
  // profiles).
  double turns_share = 0;
  RateCurve turns_by_stretch;
  RateCurve turns_by_stretch_filled;  // DeviceModel::turns_by_stretch_filled; may be empty
  double handoff_in_turns_s = 0;
  std::vector<std::pair<double, double>> matmul_by_size;  // (FLOP per call, FLOP/s), by size
  // An elementwise op's (bytes moved per call, bytes/s), by size, from data in a core's
  // caches to data beyond them; empty in older profiles (memory_Bps at every size).
  RateCurve memory_by_size;
  // Matmul FLOP/s on a grid of m, n and k (kernel_rates.h), of the work beyond
  // op_latency_s; empty in older profiles.
  std::vector<GemmPoint> matmul_by_shape;
  std::vector<LevelProfile> levels;
  // The MPI settings that chose which of MPI's own collectives ran while they were timed
  // (launcher::mpi_collective_settings). Empty: not recorded (older profiles, another MPI).
  std::map<std::string, std::string> mpi_collectives;
};

// "ranks sharing PUs keep 61% of their share over 24 us between collectives, 97% over 39
// ms (59% over 25 us and 92% over 1.7 ms, their kernels filling a core's cache)": the
// turns curve's ends, and the filled curve's first point and the one before its last (ms
// apart, as gpt's collectives), as bind and apply_profile say them. O(1).
std::string turns_said(const RateCurve& turns_by_stretch, const RateCurve& turns_by_stretch_filled);

// Reads and writes the JSON form (written atomically). Throws spmd::Error naming the file
// and the field for a missing file, bad JSON, a missing or non-positive figure.
Profile read_profile(const std::string& path);
void write_profile(const std::string& path, const Profile& profile);

// What a profile changes: the topology with measured links (and collective algorithms) on
// the levels it has, the
// device figures to use, and one line per decision ("matmul 45.1 GFLOP/s measured", "level
// node: 2.1 us, 9.8 GB/s measured", "level cluster: default").
struct Profiled {
  launcher::Topology topology;
  DeviceOverrides device;
  std::vector<std::string> said;
  bool kernels = true;  // whether the device's kernel figures are the profile's
};

// Applies `profile` (read from `path`, for messages) to `topology`. A profile of another
// topology (another fingerprint) is used for the levels of the same name only, and said
// so; one that shares no level name is refused with spmd::Error. `base` keeps the user's
// own figures, which win over measured ones. `threads` (0: not known) are the kernel
// threads of the job's ranks: a profile whose kernels ran other threads keeps its links
// and collectives, not its kernel figures (2 threads' matmuls predicted a 1-thread gpt
// step at 0.6 of its time), and says so.
// Where the job's ranks take turns on their PUs (a CPU device with more ranks bound to it
// than PUs), MPI's own collectives are left out of the levels' measured algorithms for the
// primitives whose MPI call the profile timed slower than ours in a step, or did not time
// (native_kept_in_turns), and said so; where its ranks get the share the profile measured
// turns at, the profile's turns curve and hand-off in turns are the device's.
// Each of the MPI settings that differ between `now` and `then` (a profile's
// mpi_collectives), as "coll_han_priority '100' here, '0' when profiled" ("unset" where one
// side has none), ", "-joined; "" where they agree or either is empty (not known). O(n).
std::string mpi_settings_changed(const std::map<std::string, std::string>& now,
                                 const std::map<std::string, std::string>& then);

// Where `mpi_settings` (the job's launcher::mpi_collective_settings; empty: not known) and
// the profile's differ, it says which: the profile's times of MPI's own collectives, and
// with them the choice between MPI's and ours, were taken under the others.
Profiled apply_profile(const Profile& profile, const std::string& path, const launcher::Topology& topology,
                       DeviceOverrides base = {}, int threads = 0,
                       const std::map<std::string, std::string>& mpi_settings = {});

// Whether ranks of `topology` take turns on their PUs: a CPU device with more ranks bound to
// it than it has PUs. MPI's own collectives, which the profile times with every rank lined
// up, then lose to ours in a step, where ranks reach a collective in turns and its rounds
// wait for peers that are not running: mlp megatron on 4 ranks over 2 cores took 0.55-0.57
// ms a step with MPI's all-reduce of 64 KiB, which the profile had timed faster than ours,
// and 0.38 ms with ours. O(devices).
bool ranks_take_turns(const launcher::Topology& topology);

// How much faster than the fastest of ours in a step MPI's own collective must have been
// timed for ranks taking turns to keep it (native_left_out_in_turns). A job's step costs
// MPI's own more than the profile's step does: mlp megatron on 4 ranks over 2 cores took
// 0.44 ms a step with MPI's all-reduce of 64 KiB and 0.32 ms with ours, where the profile's
// step timed the two alike (1.03x), on buffers in huge pages.
inline constexpr double kNativeInTurnsMargin = 0.10;

// Whether ranks taking turns leave out MPI's own collective that took `ratio` times the
// fastest of ours in a step (Profile::native_in_turns): unless MPI's own was faster there by
// kNativeInTurnsMargin.
bool native_left_out_in_turns(double ratio);

// The ratio of `in_turns` (one primitive's curve of Profile::native_in_turns) at `bytes`:
// that of the size timed nearest it, by how many times larger or smaller, the larger of two
// as near. A ratio per size, not one per primitive: MPI's all-reduce in a step on 4 ranks
// over 2 cores took 2x ours at 64 KiB and 1.0x at 256 KiB and 4 MiB, and one figure for
// all of them kept it for mlp's 64 KiB all-reduce (0.42 ms a step, 0.30 ms with ours).
// O(points); 0 for an empty curve.
double native_ratio_in_turns(const RateCurve& in_turns, double bytes);

// `measured` without MPI's own collective's bands (algorithm "native") where ranks taking
// turns wait for it longer than for ours in a step: those whose ratio at their largest size
// (at most the largest size timed) `profile.native_in_turns` leaves out
// (native_left_out_in_turns), and every band of a primitive it does not name (MPI's own
// all-reduce, timed lined up, lost in every step measured); bands wholly above
// `profile.native_in_turns_bytes` stay. A band kept after one left out holds only its own
// sizes (MeasuredAlgorithm::from_bytes). O(bands x points).
std::vector<launcher::MeasuredAlgorithm> native_kept_in_turns(const std::vector<launcher::MeasuredAlgorithm>& measured,
                                                              const Profile& profile);

}  // namespace spmd::partitioner
