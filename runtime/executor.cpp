#include "runtime/executor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <unistd.h>

#include "common/error.h"
#include "common/units.h"
#include "collectives/redistribute.h"
#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/mesh.h"
#include "partitioner/schedule.h"
#include "runtime/init.h"

namespace spmd::runtime {
namespace {

// Where each persistent value starts in the buffer they share: what cuBLAS and the widest
// vector loads want of an operand.
constexpr size_t kOwnedAlignment = 256;

// A layout that splits at most the first dimension (the batch) and sums nothing: a device's
// shard is then a block of whole rows, which the data source can write directly.
bool rows_only(const collectives::Layout& l) {
  if (!l.partial.empty()) return false;
  for (size_t d = 1; d < l.dims.size(); ++d) {
    if (!l.dims[d].empty()) return false;
  }
  return true;
}

// The planned peak is known before anything is allocated: a program that cannot fit in this
// machine's memory is the user's mistake (a model too large for one device), said in bytes,
// not a std::bad_alloc halfway through.
void require_memory(const ProgramMemory& memory, const kernels::Backend& backend) {
  if (backend.device_memory()) return;  // the device's allocator says what it lacks
  const uint64_t available = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (memory.peak_bytes() <= available) return;
  throw Error("the program needs " + bytes_text(memory.peak_bytes()) + " per device (params, state and inputs " +
              bytes_text(memory.persistent_bytes) + ", activations " + bytes_text(memory.arena.arena_bytes) +
              "), more than the " + bytes_text(available) + " of memory this machine has");
}

}  // namespace

Executor::~Executor() = default;

Executor::Executor(ir::Graph graph, kernels::Backend& backend, uint64_t seed, collectives::Communicator* world,
                   const launcher::Topology* topology)
    : graph_(std::move(graph)), backend_(backend), world_(world) {
  if (graph_.meta.has("mesh")) {
    mesh_ = partitioner::parse_mesh(graph_.meta.s("mesh")).sizes;
    int devices = 1;
    for (int s : mesh_) devices *= s;
    int ranks = world_ ? world_->size() : 1;
    if (devices != ranks) {
      throw Error("the program is partitioned for a mesh of " + std::to_string(devices) + " devices (" +
                  graph_.meta.s("mesh") + "), but " + std::to_string(ranks) + " ranks run it");
    }
    if (world_) redistributor_ = std::make_unique<collectives::Redistributor>(*world_, mesh_, topology);
  }
  check_kernels();
  allocate();
  initialize_sources(seed);
  prepare_launches();
  set_overlap(true);
}

collectives::Layout Executor::layout_of(const ir::Node& n) const {
  return n.attrs.has("layout") ? collectives::decode_layout(n.attrs.s("layout"))
                               : collectives::Layout{std::vector<std::vector<int>>(n.type.shape.size()), {}};
}

// Every op a kernel computes (constants included) must have one in the backend: found now,
// by name, rather than in the middle of a step.
void Executor::check_kernels() const {
  for (ir::ValueId v = 0; v < graph_.size(); ++v) {
    const ir::Node& n = graph_.node(v);
    if (!ir::op_traits(n.op).needs_kernel()) continue;
    std::vector<ir::TensorType> types;
    for (ir::ValueId x : n.inputs) types.push_back(graph_.type(x));
    if (backend_.supports(n.op, types)) continue;
    std::string operands;
    for (const ir::TensorType& t : types) operands += (operands.empty() ? " on " : ", ") + ir::to_string(t);
    throw Error(ir::value_label(graph_, v) + ": the " + std::string(backend_.name()) + " backend has no kernel for op '" +
                n.op + "'" + operands);
  }
}

// Sources are made in host memory (the buffer itself on a host backend) and copied in.
void Executor::initialize_sources(uint64_t seed) {
  for (ir::ValueId v = 0; v < graph_.size(); ++v) {
    const ir::Node& n = graph_.node(v);
    const ir::Source source = ir::op_traits(n.op).source;
    if (source == ir::Source::constant) {
      backend_.run(n, {}, value(v));
      continue;
    }
    if (source != ir::Source::initialized && source != ir::Source::fed) continue;
    kernels::TensorRef host = host_buffer(v);
    std::span<float> buffer(host.f32(), static_cast<size_t>(n.type.numel()));
    bool sharded = n.attrs.has("layout") && !mesh_.empty();
    ir::Shape global = sharded ? n.attrs.ints("global") : n.type.shape;
    if (source == ir::Source::initialized) {
      if (!sharded) {
        initialize(n, seed, buffer);
      } else {
        // The whole tensor, then this device's shard of it: the same values as one device.
        std::vector<float> whole(static_cast<size_t>(ir::numel(global)));
        initialize(n, seed, whole);
        collectives::extract_shard(global, mesh_, layout_of(n), rank(), whole, buffer);
      }
    } else {
      std::fill(buffer.begin(), buffer.end(), 0.0f);
      if (sharded && global != n.type.shape && !rows_only(layout_of(n))) {
        sharded_inputs_.push_back({v, std::vector<float>(static_cast<size_t>(ir::numel(global)), 0.0f)});
      }
      if (backend_.device_memory()) staged_inputs_[v] = host_copies_[v];
    }
    commit_host_value(v);
    host_copies_.erase(v);
  }
}

namespace {
// SPMD_PRIVATE_ARENA=1: the arena in private memory on huge pages even where ranks share a
// node, its collectives then by messages (to compare the two).
bool private_arena() {
  const char* v = std::getenv("SPMD_PRIVATE_ARENA");
  return v && std::string(v) == "1";
}
}  // namespace

float* Executor::node_shared_region(size_t bytes, collectives::CommBuffer& shared) {
  shared = world_->allocate_node_shared(std::max<size_t>((bytes + sizeof(float) - 1) / sizeof(float), 1));
  return shared.get();
}

float* Executor::private_region(size_t bytes, kernels::BackendBuffer& own) {
  own = kernels::BackendBuffer(backend_, std::max(bytes, sizeof(float)), kernels::BufferUse::arena);
  return own.f32();
}

collectives::CommBuffer Executor::transfer_floats(size_t n) const {
  return node_shared_ ? world_->allocate_node_shared(n) : collectives::private_comm_buffer(n, HugePages::rounded);
}

void Executor::allocate() {
  const int n = graph_.size();
  node_shared_ = world_ && world_->size() > 1 && !backend_.device_memory() && !private_arena();
  // Planned apart on host ranks whether or not node-shared (SPMD_PRIVATE_ARENA=1): the peak
  // the simulator predicts (DeviceModel::moved_buffers_apart).
  memory_ = plan_program_memory(graph_, world_ && world_->size() > 1 && !backend_.device_memory());
  require_memory(memory_, backend_);
  // The arena's moved buffers (its first moved_bytes: node-shared where ranks share them),
  // then the rest, private.
  const auto near_bytes = static_cast<ptrdiff_t>(memory_.moved_bytes);
  float* near = nullptr;
  float* far = nullptr;
  if (node_shared_) {
    near = node_shared_region(memory_.moved_bytes, shared_arena_);
    far = private_region(memory_.arena.arena_bytes - memory_.moved_bytes, arena_);
  } else {  // one private buffer, the moved part first
    near = private_region(memory_.arena.arena_bytes, arena_);
    far = near + near_bytes / static_cast<ptrdiff_t>(sizeof(float));
  }
  // The persistent values (params, optimizer state, fed inputs) side by side in one buffer,
  // on huge pages as the arena is: each on a buffer of its own, those under 2 MiB sat on
  // small pages, and gpt's optimizer updates (AdamW and its moments, over 1 MiB params) took
  // 1.9-2.0 ms of a step on one rank, 1.6-1.8 ms so (a VM's page walks; common/host_memory.h).
  // Those a collective moves apart, in node-shared memory where the arena's are.
  auto in_near = [&](ir::ValueId v) { return node_shared_ && memory_.moved[static_cast<size_t>(v)]; };
  std::vector<size_t> owned_at(static_cast<size_t>(n), 0);
  size_t owned_bytes[2] = {0, 0};  // far, near
  for (int v = 0; v < n; ++v) {
    if (memory_.buffer_of(v) != v || !memory_.owned[v]) continue;
    size_t& bytes = owned_bytes[in_near(v) ? 1 : 0];
    owned_at[static_cast<size_t>(v)] = bytes;
    bytes += (graph_.type(v).bytes() + kOwnedAlignment - 1) / kOwnedAlignment * kOwnedAlignment;
  }
  float* const owned_near = node_shared_ ? node_shared_region(owned_bytes[1], shared_owned_) : nullptr;
  float* const owned_far = private_region(owned_bytes[0], owned_);
  data_.assign(n, nullptr);
  for (int v = 0; v < n; ++v) {
    const ir::ValueId root = memory_.buffer_of(v);
    if (root != v) {
      data_[v] = data_[root];
    } else if (memory_.owned[v]) {
      data_[v] = (in_near(v) ? owned_near : owned_far) + owned_at[static_cast<size_t>(v)] / sizeof(float);
    } else {
      const ptrdiff_t at = memory_.arena.offset[v];
      data_[v] = at >= 0 && at < near_bytes ? near + at / static_cast<ptrdiff_t>(sizeof(float))
                                 : far + (at - near_bytes) / static_cast<ptrdiff_t>(sizeof(float));
    }
  }
}

int Executor::collectives_across_ranks() const {
  return static_cast<int>(std::count_if(launches_.begin(), launches_.end(),
                                        [](const Launch& l) { return l.redistribution && !l.local; }));
}

void Executor::prepare_launches() {
  for (ir::ValueId v = 0; v < graph_.size(); ++v) {
    const ir::Node& n = graph_.node(v);
    const ir::OpTraits& traits = ir::op_traits(n.op);
    if (n.is_source() || traits.view) continue;
    Launch launch{v, &n, {}, value(v), std::nullopt, false, false, {}, std::nullopt, 1, false, {}, {}, false, 0, {}, {}};
    for (ir::ValueId x : n.inputs) launch.operands.push_back(value(x));
    if (traits.collective) {
      // On a mesh of one device every layout holds the whole tensor: a copy, no ranks needed.
      int devices = 1;
      for (int size : mesh_) devices *= size;
      if (!redistributor_ && devices != 1) {
        throw Error(ir::value_label(graph_, v) + ": a redistribute op needs a partitioned program and its ranks");
      }
      launch.redistribution = Redistribution{n.attrs.ints("global"), collectives::decode_layout(n.attrs.s("from")),
                                             collectives::decode_layout(n.attrs.s("to"))};
      launch.local =
          !collectives::moves_between_devices(launch.redistribution->from, launch.redistribution->to, mesh_);
      launch.consumes_operand = memory_.consumed.at(static_cast<size_t>(v));
    }
    launches_.push_back(std::move(launch));
  }
  group_buckets();
}

// Consecutive collectives of one bucket are issued by the first; on a host backend as one
// flat all-reduce over the same axes, elsewhere one after another.
void Executor::group_buckets() {
  for (size_t i = 0; i < launches_.size(); ++i) {
    Launch& first = launches_[i];
    if (!first.redistribution || first.local || first.issued_with_bucket || !first.node->attrs.has("bucket")) continue;
    const partitioner::BucketCollective b = partitioner::bucket_at(graph_, first.id);
    for (size_t j = i + 1; j < i + b.members.size(); ++j) {  // the members are consecutive launches
      first.bucket_rest.push_back(j);
      launches_[j].issued_with_bucket = true;
      launches_[j].bucket_first = i;
    }
    first.bucket = Redistribution{b.global, b.from, b.to};
    first.bucket_blocks = b.blocks;
    first.bucket_gathers = b.gathers;
  }
}

void Executor::set_overlap(bool on) {
  if (comm_stream_) comm_stream_->wait_all();
  comm_stream_.reset();
  bool possible = redistributor_ && world_->callable_from_another_thread() && !backend_.device_memory();
  if (!on || !possible) return;
  std::vector<int> launch_of(graph_.nodes.size(), -1);
  for (size_t i = 0; i < launches_.size(); ++i) launch_of[launches_[i].id] = static_cast<int>(i);
  wait_before_.assign(launches_.size(), -1);
  const std::vector<ir::ValueId> waits = partitioner::collective_wait_points(graph_, memory_.alias);
  for (size_t i = 0; i < launches_.size(); ++i) {
    if (!launches_[i].redistribution) continue;
    ir::ValueId wait = waits[launches_[i].id];
    if (wait < graph_.size()) wait_before_.at(launch_of.at(wait)) = static_cast<int>(i);  // later ones win: FIFO
  }
  comm_stream_ = std::make_unique<CommStream>();
}

kernels::TensorRef Executor::value(ir::ValueId v) const {
  return {graph_.type(v), data_.at(static_cast<size_t>(v))};
}

kernels::TensorRef Executor::host_buffer(ir::ValueId v) const {
  if (!backend_.device_memory()) return value(v);
  std::vector<float>& copy = host_copies_[v];
  copy.resize(static_cast<size_t>(graph_.type(v).numel()));
  return {graph_.type(v), copy.data()};
}

kernels::TensorRef Executor::host_value(ir::ValueId v) const {
  kernels::TensorRef host = host_buffer(v);
  if (backend_.device_memory()) backend_.copy_out(host.data, data_.at(static_cast<size_t>(v)), graph_.type(v).bytes());
  return host;
}

void Executor::commit_host_value(ir::ValueId v) {
  if (!backend_.device_memory()) return;
  auto it = host_copies_.find(v);
  if (it == host_copies_.end()) throw InternalError("commit_host_value of a value never taken with host_value");
  backend_.copy_in(data_.at(static_cast<size_t>(v)), it->second.data(), graph_.type(v).bytes());
}

FeedSlice Executor::input(const std::string& feed) const {
  for (ir::ValueId v : graph_.nodes_with_op("input")) {
    const ir::Node& n = graph_.node(v);
    if (n.attrs.s("feed", "") != feed) continue;
    for (const ShardedInput& s : sharded_inputs_) {
      if (s.value == v) return whole({{n.type.dtype, n.attrs.ints("global")}, const_cast<float*>(s.whole.data())});
    }
    kernels::TensorRef buffer = value(v);
    if (auto it = staged_inputs_.find(v); it != staged_inputs_.end()) buffer.data = const_cast<float*>(it->second.data());
    collectives::Layout layout = layout_of(n);
    if (mesh_.empty() || !rows_only(layout) || layout.dims.empty()) return whole(buffer);
    // A block of rows: the block index is the row-major number of the coordinates on the
    // axes that split dimension 0.
    std::vector<int> coords = collectives::mesh_coords(rank(), mesh_);
    int64_t block = 0;
    for (int a : layout.dims[0]) block = block * mesh_[a] + coords[a];
    int64_t rows = n.type.shape[0];
    return {buffer, block * rows, rows};
  }
  throw Error("the graph has no input fed '" + feed + "'");
}

std::vector<std::string> Executor::feeds() const {
  std::vector<std::string> names;
  for (ir::ValueId v : graph_.nodes_with_op("input")) names.push_back(graph_.node(v).attrs.s("feed", ""));
  return names;
}

void Executor::run(const Launch& l) {
  if (l.issued_with_bucket) return;
  if (l.bucket) return run_bucket(l);
  run_one(l);
}

void Executor::run_one(const Launch& l) {
  if (!l.redistribution) {
    backend_.run(*l.node, l.operands, l.out);
    return;
  }
  const Redistribution& r = *l.redistribution;
  if (!redistributor_ || l.local) {
    backend_.copy_within(l.out.data, l.operands[0].data, l.out.type.bytes());
    return;
  }
  if (!backend_.device_memory()) {
    std::span<float> in(l.operands[0].f32(), static_cast<size_t>(l.operands[0].numel()));
    std::span<float> out(l.out.f32(), static_cast<size_t>(l.out.numel()));
    if (l.consumes_operand) {
      redistributor_->run_consuming(r.global, r.from, r.to, in, out);
    } else {
      redistributor_->run(r.global, r.from, r.to, in, out);
    }
    return;
  }
  // The collectives run on host memory: stage the operand out and the result back in.
  std::vector<float> in(static_cast<size_t>(l.operands[0].numel())), out(static_cast<size_t>(l.out.numel()));
  backend_.copy_out(in.data(), l.operands[0].data, l.operands[0].type.bytes());
  redistributor_->run(r.global, r.from, r.to, in, out);
  backend_.copy_in(l.out.data, out.data(), l.out.type.bytes());
}

void Executor::step() {
  using Clock = std::chrono::steady_clock;
  for (const ShardedInput& s : sharded_inputs_) {
    const ir::Node& n = graph_.node(s.value);
    auto staged = staged_inputs_.find(s.value);
    float* host = staged == staged_inputs_.end() ? data_[s.value] : staged->second.data();
    std::span<float> shard(host, static_cast<size_t>(n.type.numel()));
    collectives::extract_shard(n.attrs.ints("global"), mesh_, layout_of(n), rank(), s.whole, shard);
  }
  for (const auto& [v, host] : staged_inputs_) backend_.copy_in(data_[v], host.data(), graph_.type(v).bytes());
  const bool timed = profiling_ || timeline_origin_;
  const Clock::time_point origin = timeline_origin_.value_or(Clock::now());
  if (comm_stream_) comm_stream_->wait_all();  // what a failed step left queued
  step_times_.assign(timed ? launches_.size() : 0, LaunchTime{});
  std::vector<std::int64_t> tickets(launches_.size(), 0);
  for (size_t i = 0; i < launches_.size(); ++i) {
    const Launch& l = launches_[i];
    LaunchTime* slot = timed ? &step_times_[i] : nullptr;
    if (comm_stream_ && wait_before_[i] >= 0) comm_stream_->wait(tickets[wait_before_[i]]);
    if (comm_stream_ && l.issued_with_bucket) {
      // Nothing of its own to run: a work item each woke both threads for nothing, about
      // 10 us per member where they share a core.
      tickets[i] = tickets[l.bucket_first];
    } else if (comm_stream_ && l.redistribution && !l.local) {
      tickets[i] = comm_stream_->submit([this, &l, slot, origin] { timed_run(l, slot, origin); });
    } else {
      timed_run(l, slot, origin);
    }
  }
  if (comm_stream_) comm_stream_->wait_all();
  if (timed) record_times();
  for (auto [target, next] : memory_.copies) backend_.copy_within(data_[target], data_[next], graph_.type(target).bytes());
  backend_.synchronize();
}

void Executor::timed_run(const Launch& l, LaunchTime* slot, std::chrono::steady_clock::time_point origin) {
  using Clock = std::chrono::steady_clock;
  if (!slot) return run(l);
  auto start = Clock::now();
  run(l);
  backend_.synchronize();  // a device's kernels are timed when they are done
  auto end = Clock::now();
  *slot = {l.id, std::chrono::duration<double>(start - origin).count(), std::chrono::duration<double>(end - origin).count()};
}

void Executor::record_times() {
  for (size_t i = 0; i < launches_.size(); ++i) {
    LaunchTime& t = step_times_[i];
    if (launches_[i].issued_with_bucket) {  // done with its bucket, taking no time of its own
      const double done = step_times_[launches_[i].bucket_first].end_s;
      t = {launches_[i].id, done, done};
    }
    if (profiling_) {
      OpProfile& p = profile_[launches_[i].node->op];
      p.calls += 1;
      p.seconds += t.end_s - t.start_s;
    }
    if (timeline_origin_) timeline_.push_back(t);
  }
}

std::vector<float> Executor::global_value(ir::ValueId v) {
  const ir::Node& n = graph_.node(v);
  kernels::TensorRef local = host_value(v);
  std::span<const float> shard(local.f32(), static_cast<size_t>(local.numel()));
  if (!redistributor_ || !n.attrs.has("layout")) return {shard.begin(), shard.end()};
  ir::Shape global = n.attrs.ints("global");
  std::vector<float> whole(static_cast<size_t>(ir::numel(global)));
  collectives::Layout replicated{std::vector<std::vector<int>>(global.size()), {}};
  redistributor_->run(global, layout_of(n), replicated, shard, whole);
  return whole;
}

float Executor::scalar(const std::string& output) const {
  float x = 0;
  backend_.copy_out(&x, data_[graph_.output(output)], sizeof x);
  return x;
}

}  // namespace spmd::runtime
