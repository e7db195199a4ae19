// The executor of one device: runs a training-step graph with one backend, step after step.
// Params, optimizer state and inputs own buffers that live across steps; every other value
// lives in one arena laid out by a liveness-based memory plan. Updates that can be made in
// place (an optimizer op rewriting its own param or state) write straight into it.
//
// The buffers are in the backend's memory: host memory for the CPU backend, the GPU's for the
// CUDA one. Inputs are then written to host staging buffers that step() copies in, and
// host_value() / commit_host_value() move a value between the two.
//
// A per-device program (partitioner/lower.h) runs the same way on every rank of `world`:
// its sources hold their shard (a param is initialised whole from the seed, then sliced, so
// the global tensors equal the single-device run's), its data inputs are filled whole and
// sliced, and its `redistribute` ops run as collectives over `world`: on a host backend,
// with a communicator callable from another thread, on a communication stream (its own
// thread), so that they overlap the kernels that follow; the executor waits for one only
// where its result is read or its bytes rewritten, or, for a gradient reduction, before it
// issues the second after it (partitioner/schedule.h's wait points), and the memory plan
// keeps its buffers alive until then.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/layout.h"
#include "collectives/redistribute.h"
#include "common/host_memory.h"
#include "ir/graph.h"
#include "kernels/backend.h"
#include "runtime/comm_stream.h"
#include "runtime/data.h"
#include "runtime/memory_plan.h"

namespace spmd::runtime {

struct OpProfile {
  int64_t calls = 0;
  double seconds = 0;
};

// When one launch (a kernel, or a redistribution's collectives) of a timed step began and
// ended, in seconds since the timeline's origin.
struct LaunchTime {
  ir::ValueId node;
  double start_s = 0, end_s = 0;
};

class Executor {
 public:
  // Verifies nothing (see ir::parse) but that `backend` supports every op a kernel computes
  // (throws spmd::Error naming the op and the backend otherwise, before anything runs);
  // allocates every buffer and initialises params from `seed`. Cost: the memory plan plus
  // one pass over the params.
  // `topology` (optional) is the job's hardware, device i = rank i: collectives then run the
  // schedules synthesized for it.
  Executor(ir::Graph graph, kernels::Backend& backend, uint64_t seed,
           collectives::Communicator* world = nullptr, const launcher::Topology* topology = nullptr);
  ~Executor();

  // Where to write the input fed `feed` ("tokens", "lr", ...) before step(): this device's
  // rows when it holds a block of the batch (dimension 0), else the whole tensor, of which
  // step() keeps this device's shard.
  FeedSlice input(const std::string& feed) const;
  // The names of the feeds the graph reads.
  std::vector<std::string> feeds() const;
  // Runs every node once in order, then applies the updates; returns when they are done
  // (throws what the backend's kernels found wrong, such as an id out of range).
  void step();
  // A scalar output's value after the last step (e.g. "loss"). On a device backend, one
  // small copy.
  float scalar(const std::string& output) const;
  // Any value's buffer in the backend's memory (valid for params and state at any time,
  // others just after a step).
  kernels::TensorRef value(ir::ValueId v) const;
  // The value's buffer in host memory: the buffer itself on a host backend, else a host copy
  // made now (one transfer). Writes to it reach the backend at commit_host_value(v).
  kernels::TensorRef host_value(ir::ValueId v) const;
  void commit_host_value(ir::ValueId v);
  const kernels::Backend& backend() const { return backend_; }
  // The whole tensor of a param or state, gathered from every device's shard. Collective
  // over `world` when the value is sharded.
  std::vector<float> global_value(ir::ValueId v);

  const ir::Graph& graph() const { return graph_; }
  const MemoryPlan& memory_plan() const { return memory_.arena; }
  const ProgramMemory& memory() const { return memory_; }
  // Bytes that live across steps: params, optimizer state, inputs, outputs.
  size_t persistent_bytes() const { return memory_.persistent_bytes; }
  // Planned peak bytes of one step: persistent plus the arena.
  size_t peak_bytes() const { return memory_.peak_bytes(); }

  // With profiling on, step() times each kernel; the totals are kept per op name.
  void set_profiling(bool on) { profiling_ = on; }
  const std::map<std::string, OpProfile>& profile() const { return profile_; }
  void reset_profile() { profile_.clear(); }

  // With a timeline on, step() also appends when each launch began and ended, in seconds
  // since `origin` (a point every rank of a job takes together, so that ranks line up);
  // nullopt turns it off. Cost per launch: two clock reads and, on a device backend, a
  // synchronisation (the kernels are timed when they are done); memory: one LaunchTime per
  // launch per step until take_timeline(). Forgets launches not taken (those of a step that
  // failed).
  void set_timeline(std::optional<std::chrono::steady_clock::time_point> origin) {
    timeline_origin_ = origin;
    timeline_.clear();
  }
  // The launches timed since the last call, in order, and forgets them.
  std::vector<LaunchTime> take_timeline() { return std::exchange(timeline_, {}); }

  // Whether collectives run on a communication stream, overlapping compute (on by default
  // where possible, see above); off runs them in program order on the caller's thread.
  // Between steps only.
  void set_overlap(bool on);
  bool overlaps_communication() const { return comm_stream_ != nullptr; }
  // How many of the program's collectives move data between ranks: those whose layouts
  // differ only in mesh axes of one device (none that lowering emits) are copies on the
  // compute stream. O(launches).
  int collectives_across_ranks() const;

 private:
  struct Redistribution {
    std::vector<int64_t> global;
    collectives::Layout from, to;
  };
  struct Launch {
    ir::ValueId id;
    const ir::Node* node;
    std::vector<kernels::TensorRef> operands;
    kernels::TensorRef out;
    std::optional<Redistribution> redistribution;  // a collective rather than a kernel
    // A collective whose layouts differ only in mesh axes of one device (a program not
    // lowered here: lowering emits none): its result is its operand, copied in place on the
    // compute stream, no ranks asked.
    bool local = false;
    // A collective that may work in its operand's buffer: nothing reads it after
    // (ProgramMemory::consumed).
    bool consumes_operand = false;
    // A gradient bucket (partitioner/bucket.h), on its first member: the launches issued
    // with it, and the one flat collective of their buffers (BucketCollective: its blocks
    // of rows interleaved). The others run nothing of their own.
    std::vector<size_t> bucket_rest;
    std::optional<Redistribution> bucket;
    int64_t bucket_blocks = 1;
    bool bucket_gathers = false;  // an all-gather's bucket (BucketCollective::gathers)
    // Where it does not run in pieces (run_in_pieces): its members' operands packed (a
    // reduce-scatter's or an all-gather's; an all-reduce's are packed into its result), and
    // the flat result (reduced, or gathered and unpacked from): allocated at the first step, reused by every
    // later one (scratch of a const launch, hence mutable), by transfer_floats.
    mutable collectives::CommBuffer packed, reduced;
    // A later member of a bucket: issued with launch `bucket_first`, done when it is.
    bool issued_with_bucket = false;
    size_t bucket_first = 0;
    // Where it runs in pieces: its members' operands and results cut into blocks of rows
    // (collectives::Pieces), cut at the first step and kept, as the buffers stay put.
    mutable std::vector<collectives::Pieces> pieces_in, pieces_out;
  };
  struct ShardedInput {
    ir::ValueId value;
    std::vector<float> whole;  // what the data source fills
  };
  void check_kernels() const;
  // The value's host buffer (its own on a host backend), without copying anything into it.
  kernels::TensorRef host_buffer(ir::ValueId v) const;
  void allocate();
  // `bytes` (one float at least) of node-shared memory, held in `shared`: collective over
  // the world.
  float* node_shared_region(size_t bytes, collectives::CommBuffer& shared);
  // `bytes` (one float at least) of the backend's memory, held in `own`.
  float* private_region(size_t bytes, kernels::BackendBuffer& own);
  // `n` floats for a bucket's packed operands or flat result, where a collective's buffers
  // go: node-shared where the arena is (collective over the world: every rank's first step
  // comes to the same buckets in the same order), else private huge pages.
  collectives::CommBuffer transfer_floats(size_t n) const;
  void initialize_sources(uint64_t seed);
  void prepare_launches();
  void group_buckets();
  void run(const Launch& l);
  void run_one(const Launch& l);
  void run_bucket(const Launch& first);
  bool run_in_pieces(const Launch& first, const std::vector<const Launch*>& members);
  void run_gather_bucket(const Launch& first, const std::vector<const Launch*>& members);
  static void interleave(const std::vector<const Launch*>& members, int64_t blocks, float* flat);
  static void deinterleave(const float* flat, int64_t blocks, const std::vector<const Launch*>& members);
  static std::span<float> side_by_side(const std::vector<const Launch*>& members, size_t floats, bool operands);
  // run(l), timed into `slot` (relative to `origin`) when given.
  void timed_run(const Launch& l, LaunchTime* slot, std::chrono::steady_clock::time_point origin);
  void record_times();
  collectives::Layout layout_of(const ir::Node& n) const;
  int rank() const { return world_ ? world_->rank() : 0; }

  ir::Graph graph_;
  kernels::Backend& backend_;
  collectives::Communicator* world_;
  std::unique_ptr<collectives::Redistributor> redistributor_;
  std::vector<int> mesh_;                    // the mesh's axis sizes, empty for one device
  std::vector<ShardedInput> sharded_inputs_;
  ProgramMemory memory_;
  std::vector<float*> data_;                   // per value: its buffer, in the backend's memory
  kernels::BackendBuffer owned_;  // the persistent values side by side, each 256-byte aligned
  kernels::BackendBuffer arena_;
  // On the host with ranks to talk to, the buffers collectives move (ProgramMemory::moved:
  // the arena's first part, the persistent values a collective reads or writes) and the
  // buckets' transfer buffers lie in node-shared memory instead
  // (Communicator::allocate_node_shared), where the shared-memory collectives reach a
  // peer's gradients and params without a message; the rest stays private, on huge pages
  // (node-shared memory is on small ones, which slowed the kernels on it).
  // SPMD_PRIVATE_ARENA=1 keeps them all private.
  bool node_shared_ = false;
  collectives::CommBuffer shared_arena_, shared_owned_;
  // Device backends: inputs' host staging, and host copies handed out by host_value().
  std::map<ir::ValueId, std::vector<float>> staged_inputs_;
  mutable std::map<ir::ValueId, std::vector<float>> host_copies_;
  std::vector<Launch> launches_;
  // Per launch: the last collective launch that must be done before it runs, or -1.
  std::vector<int> wait_before_;
  std::unique_ptr<CommStream> comm_stream_;
  std::vector<LaunchTime> step_times_;  // per launch, when timed; written by both threads
  bool profiling_ = false;
  std::map<std::string, OpProfile> profile_;
  std::optional<std::chrono::steady_clock::time_point> timeline_origin_;
  std::vector<LaunchTime> timeline_;
};

}  // namespace spmd::runtime
