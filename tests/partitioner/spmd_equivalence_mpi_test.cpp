// The property the whole system rests on: a partitioned run computes what the single-device
// run computes. For every built-in strategy, five steps of mlp and gpt give the same losses
// and the same final parameters as one device, and the plan shards what the strategy
// promises (a plan that shards nothing would pass the first check and fails this one). The
// models' sizes divide every world size the test runs on (1, 2, 3, 4, 6, 8: heads=24,
// hidden=24 and d_ff=192, batch=24), so every strategy applies; one that throws fails. The
// plan the search picks (--auto) is held to the same, and every plan's predicted peak memory
// must be the executor's planned peak.
//
// Tolerance 1e-4 relative: the devices sum partial results in another order than one device
// does (f32 rounding, ~1e-7 per operation, compounding over a few hundred ops and 5 Adam
// steps stays far below 1e-4), while any wrong shard, missing collective or misplaced block
// changes results at the 1e-2 level or more. Parameters are compared relative to at least
// 0.1 (an absolute 1e-5 near zero): the key biases have an exactly zero gradient (softmax
// does not see a shift shared by all keys), so they hold only rounding noise of ~1e-6 that
// differs with the order of the sums; trained values are 1e-3 and more.
#include <gtest/gtest.h>

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <cmath>
#include <set>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "partitioner/bucket.h"
#include "partitioner/choose.h"
#include "partitioner/lower.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"
#include "runtime/trainer.h"

namespace spmd {
namespace {

struct RunResult {
  std::vector<double> losses;
  std::map<std::string, std::vector<float>> params;
  size_t peak_bytes = 0;  // the executor's planned peak
  bool overlapped = false;  // collectives ran on the communication stream
};

RunResult train(const ir::Graph& program, collectives::Communicator* world, const ir::Graph& global) {
  auto cpu = kernels::make_cpu_backend();
  runtime::Trainer t(program, *cpu, 11, std::nullopt, world);
  RunResult r;
  for (int i = 0; i < 5; ++i) r.losses.push_back(t.step().loss);
  r.peak_bytes = t.executor().peak_bytes();
  r.overlapped = t.executor().overlaps_communication();
  for (ir::ValueId p : global.nodes_with_op("param")) {
    const std::string& name = global.node(p).name;
    r.params[name] = t.executor().global_value(*t.executor().graph().find(name));
  }
  return r;
}

void expect_close(double a, double b, const std::string& what) {
  EXPECT_LE(std::abs(a - b), 1e-4 * std::max(1.0, std::abs(b))) << what << ": " << a << " vs " << b;
}

bool split_on(const partitioner::Plan& plan, ir::ValueId v, int dim, const std::string& axis) {
  const auto& axes = plan.of(v).dims.at(static_cast<size_t>(dim));
  return std::count(axes.begin(), axes.end(), plan.mesh.axis(axis)) > 0;
}

int axis_size(const partitioner::Plan& plan, const std::string& axis) {
  const auto& names = plan.mesh.names;
  auto it = std::find(names.begin(), names.end(), axis);
  return it == names.end() ? 0 : plan.mesh.sizes[it - names.begin()];
}

int count_steps(const partitioner::Program& p, const std::string& kind) {
  int n = 0;
  for (const auto& c : p.collectives) n += c.steps.find(kind) != std::string::npos;
  return n;
}

// Data parallelism: every data input split along its batch; its gradients all-reduced.
void expect_data_parallel(const ir::Graph& g, const partitioner::Plan& plan, const std::string& where) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    if (g.type(v).rank() > 0) {
      EXPECT_TRUE(split_on(plan, v, 0, "data")) << where << ": %" << g.node(v).name;
    }
  }
}

// Megatron-LM on the zoo's names: q, k, v and the MLP's first layer column-parallel, the
// attention output and the MLP's second layer row-parallel; in the plain MLP the hidden
// layers alternate.
void expect_megatron(const ir::Graph& g, const partitioner::Plan& plan, const std::string& where) {
  const std::pair<const char*, int> split[] = {
      {"layer*.attn.w[qkv]", 1}, {"layer*.attn.wo", 0}, {"layer*.mlp.w_in", 1}, {"layer*.mlp.w_out", 0},
      {"layer[02468].w", 1},     {"layer[13579].w", 0}};
  int found = 0;
  for (ir::ValueId v : g.nodes_with_op("param")) {
    for (const auto& [glob, dim] : split) {
      if (fnmatch(glob, g.node(v).name.c_str(), 0) != 0) continue;
      ++found;
      EXPECT_TRUE(split_on(plan, v, dim, "model")) << where << ": %" << g.node(v).name << " dim " << dim;
    }
  }
  EXPECT_GE(found, 2) << where;
}

// ZeRO: every param and optimizer state split along a dimension the axis divides.
void expect_zero(const ir::Graph& g, const partitioner::Plan& plan, const std::string& where,
                 const std::string& axis = "data") {
  int size = axis_size(plan, axis);
  for (const char* kind : {"param", "state"}) {
    for (ir::ValueId v : g.nodes_with_op(kind)) {
      bool divisible = false, split = false;
      for (int d = 0; d < g.type(v).rank(); ++d) {
        divisible = divisible || g.type(v).shape[d] % size == 0;
        split = split || split_on(plan, v, d, axis);
      }
      if (divisible) {
        EXPECT_TRUE(split) << where << ": %" << g.node(v).name;
      }
    }
  }
}

// What each strategy promises, in its plan and in the collectives of its program.
void expect_promises(const std::string& strategy, const ir::Graph& g, const partitioner::Plan& plan,
                     const partitioner::Program& program, const std::string& where) {
  bool data = strategy != "megatron", model = strategy == "megatron" || strategy == "dp+megatron";
  if (data) expect_data_parallel(g, plan, where);
  if (model) expect_megatron(g, plan, where);
  if (strategy == "zero") expect_zero(g, plan, where);
  if (data && axis_size(plan, "data") > 1) {
    std::string moves = strategy == "zero" ? "reduce-scatter along data" : "all-reduce along data";
    EXPECT_GT(count_steps(program, moves), 0) << where;
    if (strategy == "zero") {
      EXPECT_GT(count_steps(program, "all-gather along data"), 0) << where;
    }
  }
  if (model && axis_size(plan, "model") > 1) {
    EXPECT_GT(count_steps(program, "all-reduce along model"), 0) << where;
  }
}

void expect_same_as_one_device(const ir::Graph& g, const partitioner::Plan& plan, const partitioner::Program& program,
                               collectives::MpiCommunicator& world, const std::string& where);

void check(const std::string& model, const std::string& strategy) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  std::string where = model + " " + strategy + " on " + std::to_string(world.size()) + " ranks";
  partitioner::Plan plan;
  try {
    plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, world.size()));
  } catch (const Error& e) {
    FAIL() << where << ": " << e.what();
  }
  partitioner::Program program = partitioner::lower(g, plan);
  expect_promises(strategy, g, plan, program, where);
  expect_same_as_one_device(g, plan, program, world, where);
}

// Recomputing activations for backward changes where they come from, not what is computed:
// the program recomputes (more nodes; with several ranks its records say which collectives
// are repeated for backward) and trains as one device does.
void check_recomputed(const std::string& model, const std::string& strategy) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  std::string where = model + " " + strategy + " recomputing on " + std::to_string(world.size()) + " ranks";
  partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, world.size()));
  partitioner::Program kept = partitioner::lower(g, plan);
  plan.rematerialize = true;
  partitioner::Program program = partitioner::lower(g, plan);
  EXPECT_GT(program.graph.size(), kept.graph.size()) << where;
  int repeated = 0;
  for (const auto& c : program.collectives) repeated += c.reason.rfind("recomputed for backward: ", 0) == 0;
  // ZeRO gathers a layer's params again for its backward (as FSDP does). Megatron's
  // all-reduces are not repeated: their results feed only the residual adds, whose sums are
  // the checkpoints, and backward reads none of them.
  if (world.size() > 1 && strategy == std::string("zero")) {
    EXPECT_GT(repeated, 0) << where;
  }
  expect_promises(strategy, g, plan, program, where);
  expect_same_as_one_device(g, plan, program, world, where);
}

// The search's widest sharding: the whole mesh a model axis (Megatron), what it does not
// split sharded over it too (ZeRO on the model axis), activations recomputed.
void check_zero_on_model_axis(const std::string& model) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  if (world.size() == 1) GTEST_SKIP() << "one rank has no model axis";
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  std::string where = model + " zero on model on " + std::to_string(world.size()) + " ranks";
  partitioner::SearchSpace space(g, world.size());
  partitioner::Candidate c{.data = 1, .model = world.size(), .split = partitioner::ModelSplit::megatron,
                           .zero_model = true, .recompute = true};
  partitioner::Plan plan = partitioner::apply_tactics(g, space.tactics(c));
  EXPECT_TRUE(plan.rematerialize) << where;
  expect_megatron(g, plan, where);
  expect_zero(g, plan, where, "model");
  expect_same_as_one_device(g, plan, partitioner::lower(g, plan), world, where);
}

// Hybrid sharding (FSDP's HYBRID_SHARD): ZeRO within groups of 2 devices of the data axis,
// replicated over the "replica" axis outside them; on 8 ranks with a model axis of 2 too,
// a mesh of three axes. Params are split over "data" and never over "replica", and the
// gradients' sums go along both.
void check_hybrid_sharding(const std::string& model) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  const int n = world.size();
  if (n % 2 != 0 || n < 4) GTEST_SKIP() << "needs a data axis of at least 2 groups of 2";
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  const int model_axis = n == 8 ? 2 : 1;
  std::string where = model + " hybrid sharding on " + std::to_string(n) + " ranks";
  partitioner::SearchSpace space(g, n);
  partitioner::Candidate c{.data = n / model_axis, .model = model_axis, .split = partitioner::ModelSplit::megatron,
                           .zero = true, .zero_group = 2, .recompute = true};
  partitioner::Plan plan = partitioner::apply_tactics(g, space.tactics(c));
  EXPECT_EQ(plan.mesh.size(), n) << where;
  EXPECT_EQ(plan.mesh.names.size(), n == 8 ? 3u : 2u) << where << ": " << plan.mesh.to_string();
  EXPECT_EQ(axis_size(plan, "data"), 2) << where;
  expect_zero(g, plan, where, "data");
  for (ir::ValueId v : g.nodes_with_op("param")) {
    for (int d = 0; d < g.type(v).rank(); ++d) EXPECT_FALSE(split_on(plan, v, d, "replica")) << where << " %" << g.node(v).name;
  }
  partitioner::Program program = partitioner::lower(g, plan);
  EXPECT_GT(count_steps(program, "along replica"), 0) << where;
  EXPECT_GT(count_steps(program, "reduce-scatter along data"), 0) << where;
  expect_same_as_one_device(g, plan, program, world, where);
}

// The plan the search picks (on a node of as many cores as ranks) trains as one device does.
void check_auto(const std::string& model) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  std::string where = model + " auto on " + std::to_string(world.size()) + " ranks";
  partitioner::PlanRequest request;
  request.automatic = true;
  partitioner::Plan plan = partitioner::choose_plan(request, g, world.size());
  expect_same_as_one_device(g, plan, partitioner::lower(g, plan), world, where + " (" + plan.mesh.to_string() + ")");
}

// Also: the simulator's predicted peak is the executor's planned peak.
void expect_same_as_one_device(const ir::Graph& g, const partitioner::Plan& plan, const partitioner::Program& program,
                               collectives::MpiCommunicator& world, const std::string& where) {
  RunResult one = train(g, nullptr, g);
  RunResult many = train(program.graph, &world, g);
  launcher::Topology flat = partitioner::flat_topology(world.size());
  partitioner::Prediction predicted = partitioner::simulate(program, plan.mesh, flat, partitioner::device_model(flat));
  EXPECT_EQ(predicted.peak_bytes, many.peak_bytes) << where;
  // Several ranks run their collectives asynchronously, overlapping compute.
  if (world.size() > 1) {
    EXPECT_TRUE(many.overlapped) << where;
  }
  for (size_t i = 0; i < one.losses.size(); ++i) expect_close(many.losses[i], one.losses[i], where + " loss " + std::to_string(i + 1));
  for (const auto& [name, values] : one.params) {
    const auto& got = many.params.at(name);
    ASSERT_EQ(got.size(), values.size()) << where << " " << name;
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      double err = std::abs(got[i] - values[i]) / std::max(0.1, static_cast<double>(std::abs(values[i])));
      if (err > worst) worst = err, at = i;
    }
    EXPECT_LE(worst, 1e-4) << where << ": %" << name << "[" << at << "] = " << got[at] << ", one device has " << values[at];
  }
}

const char* kMlp = "mlp:layers=2,hidden=24,batch=24,features=8,classes=4";
const char* kGpt = "gpt:layers=2,d_model=48,heads=24,seq=8,vocab=32,batch=24";

class SameAsOneDevice : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SameAsOneDevice, LossesAndFinalParams) { check(std::get<0>(GetParam()), std::get<1>(GetParam())); }

INSTANTIATE_TEST_SUITE_P(BuiltinStrategies, SameAsOneDevice,
                         ::testing::Combine(::testing::Values(kMlp, kGpt),
                                            ::testing::Values("dp", "megatron", "dp+megatron", "zero")),
                         [](const auto& info) {
                           std::string n = std::string(std::get<0>(info.param)).substr(0, 3) + "_" + std::get<1>(info.param);
                           for (char& c : n) {
                             if (c == '+') c = '_';
                           }
                           return n;
                         });

TEST(SameAsOneDeviceRecomputed, ZeroAndDpMegatron) {
  for (const char* strategy : {"dp", "zero", "dp+megatron"}) check_recomputed(kGpt, strategy);
}

TEST(SameAsOneDeviceZeroOnModelAxis, Gpt) { check_zero_on_model_axis(kGpt); }

TEST(SameAsOneDeviceHybridSharding, Gpt) { check_hybrid_sharding(kGpt); }

TEST(SameAsOneDeviceAuto, MlpAndGpt) {
  check_auto(kMlp);
  check_auto(kGpt);
}

// Gradient buckets (bucket.h) fuse the all-reduces of dp and dp+megatron, and ZeRO's
// reduce-scatters and param gathers, into fewer, larger collectives over the same axes: the
// run still equals one device's, and on several ranks the program really has buckets of
// several members (for ZeRO, a reduce-scatter bucket and a gather bucket over every rank:
// their blocks interleaved).
TEST(SameAsOneDeviceBucketed, DpDpMegatronAndZero) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  for (const char* strategy : {"dp", "dp+megatron", "zero"}) {
    const std::string where = std::string(strategy) + " bucketed on " + std::to_string(world.size()) + " ranks";
    partitioner::PlanRequest request;
    request.strategy = strategy;
    partitioner::Plan plan = partitioner::choose_plan(request, g, world.size());
    partitioner::Program program = partitioner::bucket_gradients(partitioner::lower(g, plan), 1 << 20);
    std::set<int64_t> buckets;
    for (const ir::Node& n : program.graph.nodes) {
      if (n.attrs.has("bucket")) buckets.insert(n.attrs.i("bucket"));
    }
    const size_t members = std::count_if(program.graph.nodes.begin(), program.graph.nodes.end(),
                                         [](const ir::Node& n) { return n.attrs.has("bucket"); });
    if (world.size() > 1 && plan.mesh.size() > 1 && plan.mesh.sizes.front() > 1) {
      EXPECT_FALSE(buckets.empty()) << where;
      EXPECT_GT(members, buckets.size()) << where;  // each bucket fuses several
    }
    if (std::string(strategy) == "zero" && world.size() > 1) {
      int64_t most_blocks = 1, most_gathered = 1;
      for (ir::ValueId v = 0; v < program.graph.size(); ++v) {
        if (program.graph.node(v).attrs.has("bucket")) {
          const partitioner::BucketCollective b = partitioner::bucket_at(program.graph, v);
          (b.gathers ? most_gathered : most_blocks) = std::max(b.gathers ? most_gathered : most_blocks, b.blocks);
        }
      }
      EXPECT_EQ(most_blocks, world.size()) << where << ": a reduce-scatter bucket over every rank";
      EXPECT_EQ(most_gathered, world.size()) << where << ": a bucket of param gathers over every rank";
    }
    expect_same_as_one_device(g, plan, program, world, where);
  }
}

// A bucket's later members run nothing of their own: each is done when its bucket's first
// is, taking no time (a work item of its own woke both threads for nothing).
TEST(Bucketed, LaterMembersEndWithTheirBucketAndTakeNoTime) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  if (world.size() < 2) GTEST_SKIP() << "one rank has no collective to bucket";
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  partitioner::PlanRequest request;
  request.strategy = "dp";
  partitioner::Plan plan = partitioner::choose_plan(request, g, world.size());
  partitioner::Program program = partitioner::bucket_gradients(partitioner::lower(g, plan), 1 << 20);
  auto cpu = kernels::make_cpu_backend();
  runtime::Trainer t(program.graph, *cpu, 11, std::nullopt, &world);
  t.executor().set_overlap(true);
  t.executor().set_timeline(std::chrono::steady_clock::now());
  t.step();
  std::map<ir::ValueId, runtime::LaunchTime> at;
  for (const runtime::LaunchTime& l : t.executor().take_timeline()) at[l.node] = l;
  int later = 0;
  for (ir::ValueId v = 1; v < program.graph.size(); ++v) {
    const int64_t bucket = program.graph.node(v).attrs.i("bucket", -1);
    if (bucket < 0 || program.graph.node(v - 1).attrs.i("bucket", -1) != bucket) continue;
    ++later;
    ir::ValueId first = v - 1;
    while (first > 0 && program.graph.node(first - 1).attrs.i("bucket", -1) == bucket) --first;
    ASSERT_TRUE(at.count(v) && at.count(first)) << "%" << v;
    EXPECT_EQ(at[v].start_s, at[v].end_s) << "%" << v;
    EXPECT_EQ(at[v].end_s, at[first].end_s) << "%" << v << " of the bucket of %" << first;
  }
  EXPECT_GT(later, 0);
}

// ZeRO with its param gathers issued four ahead instead of one (prefetch.h) still equals one
// device: only when the gathers run changes.
TEST(SameAsOneDevicePrefetched, ZeroFourAhead) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  partitioner::PlanRequest request;
  request.strategy = "zero";
  partitioner::Plan plan = partitioner::choose_plan(request, g, world.size());
  const partitioner::Program program = partitioner::finish_lowering(partitioner::lower_ops(g, plan), false, 4);
  expect_same_as_one_device(g, plan, program, world, "zero prefetched 4 ahead on " + std::to_string(world.size()) + " ranks");
}

// Where Megatron cannot apply it says why: it splits attention by whole heads only.
TEST(Megatron, RefusesToCutAHead) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model("gpt:layers=1,d_model=16,heads=2,seq=8,vocab=32,batch=24"), {});
  if (2 % world.size() == 0) {
    EXPECT_NO_THROW(partitioner::builtin_strategy("megatron", g, world.size()));
    return;
  }
  try {
    partitioner::builtin_strategy("megatron", g, world.size());
    FAIL() << "megatron cut 2 heads over " << world.size() << " devices";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "strategy megatron: heads=2 do not split over " + std::to_string(world.size()) + " devices of axis 'model'");
  }
}

}  // namespace
}  // namespace spmd
