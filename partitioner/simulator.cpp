#include "partitioner/simulator.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/memory_plan.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {
namespace {

// The collective record of each redistribute node, or -1.
std::vector<int> records_by_node(const Program& program) {
  std::vector<int> out(program.graph.nodes.size(), -1);
  for (size_t i = 0; i < program.collectives.size(); ++i) out.at(program.collectives[i].at) = static_cast<int>(i);
  return out;
}

// A bucket (bucket.h) is one collective: the record of it, for the bucket whose first
// member is node `first`.
CollectiveRecord bucket_record(const Program& program, const std::vector<int>& record, const BucketCollective& b) {
  CollectiveRecord r = program.collectives[record[b.members.front()]];
  r.global = b.global;
  r.from_layout = b.from;
  r.to_layout = b.to;
  r.bytes = b.bytes;
  return r;
}

// The runtime packs a bucket's members into one buffer and unpacks its result
// (runtime/executor.h): two copies, each read and written, at the memory rate of the bytes
// they move. 19% of a 300 KiB all-reduce's time on 2 ranks here. Only what the memory plan
// leaves (memory_plan.h's bucket_views): no copy where the operands are the flat buffer,
// no unpacking where the results are. A bucket run in pieces (CollectiveCosts::
// runs_in_pieces) copies only a gather's own block into its results.
double pack_seconds(const BucketCollective& b, const DeviceModel& device, std::optional<BucketView> view,
                    bool in_pieces) {
  if (b.members.size() < 2 || view == BucketView::operands || (in_pieces && !b.gathers)) return 0;
  double in = sizeof(float);
  for (int64_t d : b.global) in *= static_cast<double>(d);
  const double block = in / static_cast<double>(b.blocks);
  const double moved = in_pieces ? 2 * block : 2 * (in + (view == BucketView::results ? 0 : block));
  return moved / rate_at(device.bytes_by_size, moved, device.memory_Bps);
}

struct Streams {
  double compute = 0, comm = 0;      // when each stream is next free
  double compute_busy = 0, comm_busy = 0;
  double since_sync = 0;             // compute since the last collective between devices
  double bytes_since_sync = 0;       // the bytes its kernels touched (op_bytes), likewise
};

// One pass over the program in its order, as the runtime's main thread issues it.
class Playback {
 public:
  Playback(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap,
           std::vector<SimulatedLaunch>* launches, const ProgramMemory* memory)
      : program_(program), g_(program.graph), device_(device), costs_(costs), overlap_(overlap),
        // One core for both threads: the communication thread runs only while the main
        // thread waits (a thread woken on a busy core waits for it), so a collective is
        // played where its result is first read, or at the step's end.
        lazy_(overlap && device.comm_shares_core), launches_(launches), record_(records_by_node(program)),
        ready_(g_.nodes.size(), 0), waiting_(g_.nodes.size(), kReady), limited_(g_.nodes.size(), -1) {
    // Before issuing a node, the main thread waits for the collectives whose in-flight
    // limit it is (schedule.h); the stream runs them in order, so for the last of them.
    const std::vector<ir::ValueId> limit = in_flight_limits(g_);
    for (ir::ValueId c = 0; c < g_.size(); ++c) {
      if (limit[c] >= 0 && limit[c] < g_.size()) limited_[limit[c]] = std::max(limited_[limit[c]], c);
    }
    // The first stretch holds the rank's compute before the program (its batch's feed).
    s_.since_sync = device.step_lead_in_s;
    // The step's first collective meets what the kernels after its last touched.
    if (!device.collective_cold_s.empty()) s_.bytes_since_sync = bytes_after_last_sync();
    // Where the device's memory rate depends on how much data is in play, each operand is
    // priced by what the step touched since it last touched it (reuse_distance.h), on the
    // memory plan simulate passes, or one planned here for simulate_time (O(values^2)).
    // Where the ranks' turns may refill a core's cache, what a rank's step holds decides
    // how much (DeviceModel::turn_seconds).
    // A collective's cold extra reads the same distances (touched_before).
    std::optional<ProgramMemory> planned;
    prices_by_reuse_ = device.bytes_by_size.size() >= 2;
    const bool needs_distances = prices_by_reuse_ || !device.collective_cold_s.empty();
    const bool needs_plan = needs_distances || !device.turns_by_stretch_filled.empty();
    if (!memory && needs_plan) planned = plan_program_memory(g_, device.moved_buffers_apart);
    const ProgramMemory* plan = memory ? memory : planned ? &*planned : nullptr;
    if (plan && !device.turns_by_stretch_filled.empty()) held_bytes_ = static_cast<double>(plan->peak_bytes());
    if (!needs_distances) return;
    const std::vector<bool> peers =
        prices_by_reuse_ && device.charges_peer_rewrites() ? read_by_peers() : std::vector<bool>{};
    reuse_.emplace(g_, *plan, peers);
  }

  Prediction run() {
    for (ir::ValueId v = 0; v < g_.size(); ++v) {
      const ir::Node& n = g_.node(v);
      if (limited_[v] >= 0) wait_for(limited_[v]);
      if (record_[v] >= 0) {
        issue(v);
      } else if (n.is_source() || ir::op_def(n.op).traits.view) {
        // A view of a result still pending waits with it: reading a view is reading it.
        const bool waits = std::any_of(n.inputs.begin(), n.inputs.end(), [&](ir::ValueId x) { return unplayed(x); });
        if (waits) waiting_[v] = kUnplayedView;
        else ready_[v] = operands(v);
      } else {
        for (ir::ValueId x : n.inputs) resolve(x);
        compute(v);
      }
    }
    play_until(g_.size());
    for (ir::ValueId v = 0; v < g_.size(); ++v) resolve(v);  // views read by nothing
    // The stretch after the last collective, and the rank's compute after the program, end
    // where the ranks agree that the step's values are finite: its turns are this step's.
    s_.compute += device_.turn_seconds(s_.since_sync + device_.step_lead_out_s, held_bytes_);
    Prediction p;
    p.step_time_s = std::max(s_.compute, s_.comm);
    p.compute_s = s_.compute_busy;
    p.comm_s = s_.comm_busy;
    p.exposed_comm_s = std::max(0.0, p.step_time_s - s_.compute_busy);
    return p;
  }

 private:
  enum Waiting : char { kReady, kPending, kUnplayedView };  // a node's ready_ is final once kReady

  double operands(ir::ValueId v) const {
    double t = 0;
    for (ir::ValueId x : g_.node(v).inputs) t = std::max(t, ready_[x]);
    return t;
  }

  void compute(ir::ValueId v) {
    const double t = prices_by_reuse_ ? op_seconds(g_, v, device_, *reuse_) : op_seconds(g_, v, device_);
    const double start = std::max(s_.compute, operands(v));
    s_.compute = start + t;
    s_.compute_busy += t;
    s_.since_sync += t;
    if (!device_.collective_cold_s.empty()) s_.bytes_since_sync += op_bytes(g_, v);  // else never read
    ready_[v] = s_.compute;
    if (launches_) launches_->push_back({v, false, start, t});
  }

  void issue(ir::ValueId v) {
    pending_.push_back(v);
    waiting_[v] = kPending;
    if (!lazy_) return play_until(v);
    // Played lazily, a collective still waits for its peers and their turns on shared PUs
    // over the stretch up to where it is issued: the communication thread is woken there.
    // Charged at its play, but for that stretch: deferring it does not merge stretches into
    // longer ones that keep more of the share (mlp under ZeRO on 4 ranks over 2 cores was
    // predicted 5% faster overlapped, and ran 13% slower).
    if (joins_previous_in_bucket(g_, v) || !across_devices(v)) return;
    wait_at_issue_[v] = peer_wait();
    s_.since_sync = 0;
  }

  // What a collective between devices issued now waits for beyond its own time: the slowest
  // rank (device_model.h's sync_wait) and, where ranks share PUs, the turns they took over
  // the stretch since the last.
  double peer_wait() const {
    return device_.sync_wait_s + device_.sync_wait_fraction * s_.since_sync +
           device_.turn_seconds(s_.since_sync, held_bytes_);
  }

  bool unplayed(ir::ValueId x) const { return waiting_[x] != kReady; }

  // The bytes the kernels after the program's last collective between devices touch
  // (op_bytes, each kernel's own). O(nodes).
  double bytes_after_last_sync() const {
    double bytes = 0;
    for (ir::ValueId v = g_.size() - 1; v >= 0; --v) {
      if (record_[v] >= 0 && costs_.across_devices(program_.collectives[record_[v]])) break;
      const ir::Node& n = g_.node(v);
      if (record_[v] < 0 && !n.is_source() && !ir::op_def(n.op).traits.view) bytes += op_bytes(g_, v);
    }
    return bytes;
  }

  // Per node: whether processes of other devices read its operands where they lie (the
  // collectives between devices, but for the members of a bucket packed into a buffer of
  // its own first). O(nodes).
  std::vector<bool> read_by_peers() {
    std::vector<bool> out(g_.nodes.size(), false);
    bool packed = false;  // the bucket of the node before, where it joins it
    for (ir::ValueId v = 0; v < g_.size(); ++v) {
      if (record_[v] < 0) continue;
      if (!joins_previous_in_bucket(g_, v)) {
        const std::optional<BucketCollective>& b = collective_at(v).bucket;
        packed = b && b->members.size() > 1 && view_of(v) != BucketView::operands && !in_pieces(v);
      }
      out[v] = !packed && costs_.across_devices(program_.collectives[record_[v]]);
    }
    return out;
  }

  // The main thread waits for collective `c` to finish.
  void wait_for(ir::ValueId c) {
    resolve(c);
    s_.compute = std::max(s_.compute, ready_[c]);
  }

  // Makes ready_[x] final: plays the collective `x` is, or that it views, with those before it.
  void resolve(ir::ValueId x) {
    if (waiting_[x] == kPending) return play_until(x);
    if (waiting_[x] != kUnplayedView) return;
    waiting_[x] = kReady;
    for (ir::ValueId y : g_.node(x).inputs) resolve(y);
    ready_[x] = operands(x);
  }

  // Plays the issued collectives in order, up to and including node `v` (every one when
  // `v` is past the program's end; none when `v` is not pending).
  void play_until(ir::ValueId v) {
    if (v < g_.size() && waiting_[v] != kPending) return;
    while (!pending_.empty()) {
      const ir::ValueId next = pending_.front();
      pending_.pop_front();
      waiting_[next] = kReady;
      play(next);
      if (next == v) return;
    }
  }

  // The bytes the step touched since a collective of `members` last met its data in the
  // caches: since the last collective (the transport's own buffers), or since its operands
  // and results were last touched where that is more (reuse_distance.h). A ZeRO parameter's
  // all-gather meets the step's caches whatever ran just before it: on 2 ranks mlp's of
  // 256 KiB (recursive doubling) took 25-29 us as the first in a step, lined up after a
  // barrier, whether or not this rank had just read its shard and written over its output,
  // and 17-19 us run again at once; by shared memory 21 us, and 8 us again.
  double touched_before(std::span<const ir::ValueId> members) const {
    double touched = s_.bytes_since_sync;
    if (!reuse_) return touched;
    for (ir::ValueId m : members) {
      for (size_t i = 0; i < g_.node(m).inputs.size(); ++i) touched = std::max(touched, reuse_->operand(m, i));
      touched = std::max(touched, reuse_->result(m));
    }
    return touched;
  }

  // Plays collective `v` now: the main thread has just issued it (played at once), or, played
  // lazily, waits for it (after the compute issued so far); either way at s_.compute.
  void play(ir::ValueId v) {
    if (joins_previous_in_bucket(g_, v)) {
      ready_[v] = ready_[v - 1];  // issued with the first member, done with it
      return;
    }
    const auto& [b, r] = collective_at(v);
    // It waits for every member of its bucket.
    const std::span<const ir::ValueId> members = b ? std::span<const ir::ValueId>(b->members) : std::span<const ir::ValueId>(&v, 1);
    for (ir::ValueId m : members)
      for (ir::ValueId x : g_.node(m).inputs) resolve(x);
    double ready = 0;
    for (ir::ValueId m : members) ready = std::max(ready, operands(m));
    const bool between_devices = costs_.across_devices(r);
    // Between devices, lined up as the collective tables time it, and more where the
    // step's kernels wrote over the caches since the last (device_model.h).
    const bool pieces = b && in_pieces(v);
    const double t = between_devices ? (pieces ? costs_.seconds_over_pieces(r) : costs_.seconds(r)) +
                                           (b ? pack_seconds(*b, device_, view_of(v), pieces) : 0) +
                                           device_.collective_cold_seconds(static_cast<double>(r.bytes), touched_before(members))
                                     : local_copy_seconds(members);
    // Issued when the main thread reaches it in program order (its kernels run there, so
    // at the compute stream's time), then run when the communication stream is free;
    // overlapped, it reaches that thread and its result comes back a half hand-off late
    // (not one that moves nothing: the runtime copies it in place). One that stays on the
    // device the main thread runs itself.
    const double half_handoff = overlap_ && between_devices ? device_.handoff_s / 2 : 0;
    // Between devices, it waits for its peers (peer_wait), over the stretch up to its issue.
    const auto at_issue = wait_at_issue_.find(v);
    const double wait = !between_devices ? 0 : at_issue != wait_at_issue_.end() ? at_issue->second : peer_wait();
    if (between_devices) s_.bytes_since_sync = 0;
    if (between_devices && at_issue == wait_at_issue_.end()) s_.since_sync = 0;
    const double start = std::max({s_.comm, ready, s_.compute + half_handoff}) + wait;
    s_.comm = start + t;
    if (!overlap_ || lazy_ || !between_devices) s_.compute = std::max(s_.compute, s_.comm);
    s_.comm_busy += t;
    ready_[v] = s_.comm + half_handoff;
    if (launches_) launches_->push_back({v, true, start, t});
  }

  // The collective node `v` (a bucket's first member: the bucket's) runs, with its bucket
  // where it has one; found once (bucket_at is O(members)), as lazy play asks at its issue
  // and again at its play.
  struct Collective {
    std::optional<BucketCollective> bucket;
    CollectiveRecord record;
  };
  const Collective& collective_at(ir::ValueId v) {
    auto [at, added] = collectives_.try_emplace(v);
    if (!added) return at->second;
    Collective& c = at->second;
    if (g_.node(v).attrs.i("bucket", -1) >= 0) c.bucket = bucket_at(g_, v);
    c.record = c.bucket ? bucket_record(program_, record_, *c.bucket) : program_.collectives[record_[v]];
    return c;
  }
  std::unordered_map<ir::ValueId, Collective> collectives_;
  bool across_devices(ir::ValueId v) { return costs_.across_devices(collective_at(v).record); }

  // A redistribution that stays on the device copies each member's result from its operand
  // (runtime/executor.h), but where the memory plan writes it over the operand: 12 us of a
  // 300 us step for ZeRO's parameter gathers on one rank. Read and written at the memory
  // rate of the bytes moved.
  double local_copy_seconds(std::span<const ir::ValueId> members) {
    if (in_place_.empty()) in_place_ = collectives_in_place(g_);
    double seconds = 0;
    for (ir::ValueId m : members) {
      const double moved = 2.0 * static_cast<double>(g_.type(m).bytes());
      if (!in_place_[m] && moved > 0) seconds += moved / rate_at(device_.bytes_by_size, moved, device_.memory_Bps);
    }
    return seconds;
  }
  std::vector<bool> in_place_;  // found at the first collective that stays on the device

  const Program& program_;
  const ir::Graph& g_;
  const DeviceModel& device_;
  CollectiveCosts& costs_;
  const bool overlap_, lazy_;
  std::vector<SimulatedLaunch>* launches_;
  const std::vector<int> record_;
  std::vector<double> ready_;
  std::deque<ir::ValueId> pending_;  // issued, not yet played, in order
  std::vector<Waiting> waiting_;
  std::vector<ir::ValueId> limited_;  // per node: the last collective to finish before it is issued, or -1
  std::unordered_map<ir::ValueId, double> wait_at_issue_;  // played lazily: its peer_wait where issued
  std::optional<ReuseDistances> reuse_;  // where ops are priced by them, or collectives charged cold
  bool prices_by_reuse_ = false;          // ops priced at the memory rate of their reuse distances
  double held_bytes_ = 0;  // a rank's step's memory, where turns_by_stretch_filled is given
  // On a bucket's first member: what the memory plan lays out flat. Found at the first
  // bucket: the search's many programs without one never pay for it.
  std::optional<BucketView> view_of(ir::ValueId first) {
    if (view_.empty()) {
      view_.resize(g_.nodes.size());
      for (auto [member, view] : bucket_views(g_)) view_[member] = view;
    }
    return view_[first];
  }
  std::vector<std::optional<BucketView>> view_;
  // Whether bucket `first`'s collective runs over its members where they lie, as the
  // executor's run_in_pieces decides: an algorithm that runs so (CollectiveCosts), and for
  // a reduce-scatter, which sums into its operands, every member's the collective's to lose.
  bool in_pieces(ir::ValueId first) {
    const auto& [b, r] = collective_at(first);
    if (!b || !costs_.runs_in_pieces(r)) return false;
    if (b->gathers) return true;
    if (consuming_.empty()) consuming_ = collectives_consuming(g_);
    return std::all_of(b->members.begin(), b->members.end(), [&](ir::ValueId m) { return consuming_[m]; });
  }
  std::vector<bool> consuming_;
  Streams s_;
};

}  // namespace

Prediction simulate_time(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap,
                         std::vector<SimulatedLaunch>* launches) {
  return Playback(program, device, costs, overlap, launches, nullptr).run();
}

Prediction simulate(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap,
                    std::vector<SimulatedLaunch>* launches) {
  const ProgramMemory memory = plan_program_memory(program.graph, device.moved_buffers_apart);
  Prediction p = Playback(program, device, costs, overlap, launches, &memory).run();
  p.peak_bytes = memory.peak_bytes();
  return p;
}

Prediction simulate(const Program& program, const Mesh& mesh, const launcher::Topology& topology,
                    const DeviceModel& device) {
  CollectiveCosts costs(mesh, topology);
  return simulate(program, device, costs);
}

}  // namespace spmd::partitioner
