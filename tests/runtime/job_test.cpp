// runtime::Job on one process (no MPI): the three stages, a graph built in code with the
// program's own data, and the mistakes each stage reports.
#include <gtest/gtest.h>

#include <regex>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>
#include <set>

#include "common/error.h"
#include "ir/builder.h"
#include "kernels/backend.h"
#include "partitioner/profile.h"
#include "runtime/job.h"
#include "tests/support/scratch.h"

namespace spmd::runtime {
namespace {

// A linear regression with names of its own: loss = mean((x w - y)^2).
ir::Graph regression(int64_t batch, int64_t features) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.input("x", {ir::DType::f32, {batch, features}}, "x");
  ir::ValueId y = b.input("y", {ir::DType::f32, {batch, 1}}, "y");
  ir::ValueId w = b.param("fc0.weight", {features, 1}, "zeros");
  ir::ValueId e = b.sub(b.matmul(x, w), y);
  g.outputs.emplace_back("loss", b.reduce_mean(b.mul(e, e), {0, 1}));
  return g;
}

// A pseudo-random number in [-1, 1) of (step, row, feature): rows independent enough that
// the weights are identifiable from one batch.
double noise(int64_t step, int64_t row, int64_t f) {
  double x = std::sin(static_cast<double>(step * 7919 + row * 104729 + f * 1299709) * 12.9898) * 43758.5453;
  return 2 * (x - std::floor(x)) - 1;
}

// y = sum of x: the weights that solve it are all ones.
void fill_sum(int64_t step, const Feeds& feeds) {
  const FeedSlice& x = feeds.at("x");
  const FeedSlice& y = feeds.at("y");
  int64_t features = x.buffer.numel() / x.rows;
  for (int64_t r = 0; r < x.rows; ++r) {
    double sum = 0;
    for (int64_t f = 0; f < features; ++f) {
      double v = noise(step, x.row_begin + r, f);
      x.buffer.f32()[r * features + f] = static_cast<float>(v);
      sum += v;
    }
    y.buffer.f32()[r] = static_cast<float>(sum);
  }
}

JobDescription regression_job() {
  JobDescription d;
  d.program.graph = regression(8, 4);
  d.program.optimizer.kind = "sgd";
  d.program.lr = 0.1;
  d.data = fill_sum;
  return d;
}

TEST(Job, TrainsAGraphBuiltInCodeOnItsOwnData) {
  Job job(regression_job());
  job.bind();
  std::vector<double> losses;
  job.train(60, [&](const StepReport& r) { losses.push_back(r.loss); });
  ASSERT_EQ(losses.size(), 60u);
  EXPECT_LT(losses.back(), 0.05 * losses.front());
  for (float w : job.value("fc0.weight")) EXPECT_NEAR(w, 1.0f, 0.2f);
}

TEST(Job, CallsTheDataCallbackOncePerStepWithTheStepNumber) {
  JobDescription d = regression_job();
  std::vector<int64_t> steps;
  d.data = [&](int64_t step, const Feeds& feeds) {
    steps.push_back(step);
    EXPECT_EQ(feeds.count("x"), 1u);
    EXPECT_EQ(feeds.at("x").rows, 8);
    fill_sum(step, feeds);
  };
  Job job(std::move(d));
  job.bind();
  job.train(3);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 1, 2}));  // none to time it: a program's data is its own
}

// Feeding a batch is part of every step: a built-in source is timed at bind and its time
// counted in the prediction; a program's own data is not called beyond its steps.
TEST(Job, FeedingTheBatchIsTimedOnlyWhereTheSourceIsBuiltIn) {
  JobDescription d;
  d.program.model = "mlp:layers=1,hidden=8,batch=4,features=4,classes=3";
  Job job(d);
  job.bind();
  EXPECT_GT(job.trainer().feed_seconds(), 0);
  int calls = 0;
  const auto callback = make_callback_source([&](int64_t, const Feeds&) { ++calls; }, 4);
  EXPECT_FALSE(callback->timeable());
  EXPECT_TRUE(make_data_source(job.training_step(), 0)->timeable());
  EXPECT_EQ(calls, 0);
}

TEST(Job, ZooModelTrainsAsItsSpecSays) {
  JobDescription d;
  d.program.model = "mlp:layers=1,hidden=8,batch=4,features=4,classes=3";
  Job job(d);
  EXPECT_EQ(job.training_step().meta.s("model").rfind("mlp:", 0), 0u);
  job.bind();
  EXPECT_FALSE(job.partitioned());
  EXPECT_EQ(job.plan().mesh.size(), 1);
  EXPECT_TRUE(std::isfinite(job.step().loss));
  EXPECT_EQ(job.peak_bytes_per_rank().size(), 1u);
}

TEST(Job, SameDescriptionSameLosses) {
  auto losses = [] {
    Job job(regression_job());
    job.bind();
    std::vector<double> out;
    job.train(4, [&](const StepReport& r) { out.push_back(r.loss); });
    return out;
  };
  EXPECT_EQ(losses(), losses());
}

// The Job API's checkpoints: train() saves every K steps and keeps the newest N; a graph
// built in code has its forward pass in the manifest (no zoo spec rebuilds it); a job that
// resumes there goes on with an uninterrupted run's losses.
TEST(Job, TrainSavesEveryKStepsKeepsTheNewestAndResumesThere) {
  const std::string dir = spmd::testing::scratch_path("job-checkpoints");
  std::vector<double> straight;
  {
    Job job(regression_job());
    job.bind();
    job.train(8, [&](const StepReport& r) { straight.push_back(r.loss); });
  }
  JobDescription d = regression_job();
  d.checkpoint = {dir, 2, 2};
  {
    Job job(d);
    job.bind();
    job.train(6);
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/step-00000002"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/step-00000004/manifest.json"));
  const Manifest m = read_manifest(dir + "/step-00000006");
  EXPECT_EQ(m.step, 6);
  EXPECT_NE(m.model_fnv64, 0u);
  EXPECT_NE(m.model_ir.find("%fc0.weight = param"), std::string::npos) << m.model_ir;

  JobDescription again = regression_job();
  again.resume = dir;
  Job resumed(again);
  resumed.bind();
  ASSERT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.resumed()->step, 6);
  std::vector<double> losses;
  resumed.train(2, [&](const StepReport& r) { losses.push_back(r.loss); });
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_NEAR(losses[0], straight[6], 1e-6);
  EXPECT_NEAR(losses[1], straight[7], 1e-6);
  std::filesystem::remove_all(dir);
}

// Without a profile, bind measures the kernels (the device table's CPU rate is a guess)
// and says what it found; asked not to, it keeps the table's figures and says nothing.
TEST(Job, WithoutAProfileBindMeasuresTheKernels) {
  Job measured(regression_job());
  measured.bind();
  EXPECT_NE(measured.device_note().find("GFLOP/s at best"), std::string::npos) << measured.device_note();
  EXPECT_NE(measured.device_note().find("(no profile)"), std::string::npos);
  EXPECT_NE(measured.device_note().find("ops of the program timed"), std::string::npos) << measured.device_note();
  EXPECT_NE(measured.device_note().find("ops of their own"), std::string::npos) << measured.device_note();
  Job table(regression_job());
  JobBinding binding;
  binding.calibrate = false;
  table.bind(binding);
  EXPECT_TRUE(table.device_note().empty()) << table.device_note();
}

// Bind times the program's GEMMs beyond a core's cache on cold operands and says how far
// the model's rates are from them; a program whose GEMMs all fit the cache has none to say.
TEST(Job, BindTimesTheProgramsGemmsBeyondACoresCache) {
  JobDescription large = regression_job();
  large.program.graph = regression(256, 1024);  // x of 1 MiB: its GEMMs move more
  Job wide(large);
  wide.bind();
  EXPECT_NE(wide.device_note().find("GEMMs beyond the cache"), std::string::npos) << wide.device_note();
  Job narrow(regression_job());
  narrow.bind();
  EXPECT_EQ(narrow.device_note().find("GEMMs beyond the cache"), std::string::npos) << narrow.device_note();
}

// The GEMMs' factors are fitted against the rates bind measured, not against figures the
// description held before: stale ones (matmul at 1 GFLOP/s) would put the factor at its
// bound of 0.5x, as the table's guess did when the factors were fitted before bind set its
// rates (gpt's on 2 ranks here read 0.50x, then 1.01x).
TEST(Job, TheGemmFactorsAreFittedAgainstTheRatesBindMeasured) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under the sanitizers bind's timings say nothing of the kernels (a kernel's fixed cost read 6 ms)";
#endif
  JobDescription d;
  d.program.model = "gpt";
  d.partitioning.search.device.cpu_flops = 1e9;
  d.partitioning.search.device.cpu_flops_by_size = {{1e6, 1e9}, {1e9, 1e9}};
  // Bind times the GEMMs within a budget of its own: on a machine loaded by other tests it
  // can run out before them, and the note then has no factor. Or its timings are of a stall:
  // under ctest -j2, beside another test's bind on two kernel threads, one bind took 11 s,
  // timed a kernel's fixed cost at 8 ms and put the factor at its bound of 0.5x. Of three
  // binds, one must fit it above 0.6x; fitted against stale figures, none would.
  std::smatch factor;
  std::string note;
  const auto fitted = [&] {
    return std::regex_search(note, factor, std::regex(R"(GEMMs beyond the cache ([0-9.]+)x)")) &&
           std::stod(factor[1]) > 0.6;
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    Job job(d);
    job.bind();
    note = job.device_note();
    if (fitted()) break;
  }
  ASSERT_FALSE(factor.empty()) << note;
  EXPECT_GT(std::stod(factor[1]), 0.6) << note;
}

// A profile whose kernels ran other threads a rank than this job's keeps its other figures
// and not its kernels: bind measures those and says why; one of the same threads is taken.
TEST(Job, AProfileOfOtherKernelThreadsLeavesTheKernelsToBind) {
  partitioner::Profile p;
  p.fingerprint = launcher::fingerprint(partitioner::flat_topology(1));
  p.matmul_flops = 1e15, p.memory_Bps = 1e15, p.op_latency_s = 1e-6, p.handoff_s = 1e-5;
  p.kernel_threads = kernels::cpu_threads() + 1;
  const std::string path = ::testing::TempDir() + "other_threads_profile.json";
  partitioner::write_profile(path, p);
  Job other(regression_job());
  JobBinding binding;
  binding.profile = path;
  other.bind(binding);
  EXPECT_NE(other.device_note().find("GFLOP/s at best"), std::string::npos) << other.device_note();
  EXPECT_NE(other.device_note().find("(the profile's kernels ran other threads)"), std::string::npos);
  bool said = false;
  for (const std::string& line : other.profile_notes()) said = said || line.find("kernel figures are not used") != std::string::npos;
  EXPECT_TRUE(said);
  p.kernel_threads = kernels::cpu_threads();
  partitioner::write_profile(path, p);
  Job same(regression_job());
  same.bind(binding);
  EXPECT_EQ(same.device_note().find("GFLOP/s at best"), std::string::npos) << same.device_note();
  EXPECT_NE(same.profile_notes().back().find("matmul 1000000.0 GFLOP/s"), std::string::npos) << same.profile_notes().back();
}

TEST(Job, RunningBeforeBindIsAnError) {
  Job job(regression_job());
  EXPECT_THROW(job.step(), Error);
  EXPECT_THROW(job.plan(), Error);
}

TEST(Job, BindingTwiceIsAnError) {
  Job job(regression_job());
  job.bind();
  EXPECT_THROW(job.bind(), Error);
}

// loss = sum(sqrt(w * x)) with x fed zeros: the loss is 0, finite, but its gradient
// x * 0.5 / sqrt(w * x) = 0 * inf is NaN, so the step spoils w.
JobDescription finite_loss_nan_gradient() {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.input("x", {ir::DType::f32, {2, 3}}, "x");
  ir::ValueId w = b.param("scale", {2, 3}, "ones");
  g.outputs.emplace_back("loss", b.reduce_sum(b.sqrt(b.mul(w, x)), {0, 1}));
  JobDescription d;
  d.program.graph = std::move(g);
  d.program.optimizer.kind = "sgd";
  d.data = [](int64_t, const Feeds& feeds) {
    const FeedSlice& f = feeds.at("x");
    std::fill(f.buffer.f32(), f.buffer.f32() + f.buffer.numel(), 0.0f);
  };
  return d;
}

TEST(Job, AFiniteLossWithANonFiniteGradientStopsAtThatStepNamingTheParam) {
  Job job(finite_loss_nan_gradient());
  job.bind();
  try {
    job.step();
    FAIL() << "a NaN gradient went unnoticed";
  } catch (const JobFailure& e) {
    EXPECT_STREQ(e.what(), "step 1: param 'scale' is no longer finite (its gradient was NaN or infinite), training stopped");
  }
}

TEST(Job, ANonFiniteGradientIsSkippedWhenAskedAndTheParamKept) {
  JobDescription d = finite_loss_nan_gradient();
  d.on_nonfinite = OnNonFinite::skip;
  Job job(std::move(d));
  job.bind();
  const StepReport r = job.step();
  EXPECT_TRUE(r.skipped);
  for (float v : job.value("scale")) EXPECT_EQ(v, 1.0f);
}

TEST(Job, RejectsANonFiniteLearningRateWhenDescribed) {
  JobDescription d = regression_job();
  d.program.lr = std::nan("");
  EXPECT_THROW(Job{d}, Error);
  d.program.lr = -1;
  EXPECT_THROW(Job{d}, Error);
}

TEST(Job, ValueOfAnUnknownNameIsAnError) {
  Job job(regression_job());
  job.bind();
  EXPECT_THROW(job.value("no.such.param"), Error);
}

TEST(Job, StrategyOnOneDevicePartitionsOnAMeshOfOne) {
  JobDescription d;
  d.program.model = "mlp:layers=1,hidden=8,batch=4,features=4,classes=3";
  d.partitioning.strategy = "zero";
  Job job(d);
  job.bind();
  EXPECT_TRUE(job.partitioned());
  EXPECT_EQ(job.plan_source(), "strategy zero");
  EXPECT_TRUE(std::isfinite(job.step().loss));
}

TEST(Job, TwoPartitioningSourcesAreAnError) {
  JobDescription d;
  d.program.model = "mlp";
  d.partitioning.strategy = "dp";
  d.partitioning.plan_file = "plan.json";
  Job job(d);
  EXPECT_THROW(job.bind(), Error);
}

}  // namespace
}  // namespace spmd::runtime
