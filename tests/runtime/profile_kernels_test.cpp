// What a job measures of its own program at bind (runtime/profile_kernels.h): a rate for each
// op of the program that is not a GEMM, none for the GEMMs, for ops it lacks or for ops too
// small to time beyond a kernel's fixed cost, on operands a kernel accepts (indices within
// their table).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/ops.h"
#include "kernels/backend.h"
#include "partitioner/cost_model.h"
#include "runtime/profile_kernels.h"

namespace spmd::runtime {
namespace {

constexpr double kAnyTime = 60;  // the budget: a loaded machine (a sanitizer, ctest -j) takes its time

TEST(MeasureProgramOps, EveryOpButTheGemmsGetsARateOfItsOwn) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId table = b.param("table", {50, 16});
  const ir::ValueId ids = b.input("ids", {ir::DType::i32, {1024}}, "ids");
  const ir::ValueId rows = b.gather(table, ids);
  const ir::ValueId hidden = b.gelu(b.matmul(rows, b.param("w", {16, 64})));
  const ir::ValueId sum = b.reduce_sum(b.add(hidden, hidden), {0, 1});
  g.outputs.emplace_back("loss", b.mul(sum, sum));
  auto backend = kernels::make_cpu_backend();
  const std::vector<double> rates = measure_program_ops(*backend, g, 1e-6, kAnyTime).beyond_cache;
  ASSERT_EQ(rates.size(), ir::all_ops().size());
  for (const char* op : {"gather", "gelu", "add", "reduce_sum"}) EXPECT_GT(rates[ir::op_index(op)], 0) << op;
  EXPECT_EQ(rates[ir::op_index("matmul")], 0);   // the matmul rates cost it by its shape
  EXPECT_EQ(rates[ir::op_index("softmax")], 0);  // not in the program
  EXPECT_EQ(rates[ir::op_index("param")], 0);    // filled by the runtime, no kernel
  EXPECT_EQ(rates[ir::op_index("mul")], 0);      // one point: all fixed cost
}

// Each op but the GEMMs gets its own fixed cost from its instance moving fewest bytes, where
// those are few: the mul of one element and the add of 64 do; the gelu of 64 KiB, the
// matmul and ops the program lacks do not.
TEST(MeasureOpFixedCosts, EachSmallOpButTheGemmsGetsItsOwn) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId x = b.param("x", {128, 64});
  const ir::ValueId bias = b.param("bias", {64});
  const ir::ValueId hidden = b.gelu(b.matmul(x, b.param("w", {64, 64})));
  const ir::ValueId sum = b.reduce_sum(b.add(hidden, hidden), {0, 1});
  g.outputs = {{"loss", b.mul(sum, sum)}, {"bias", b.add(bias, bias)}};
  auto backend = kernels::make_cpu_backend();
  const std::vector<double> fixed = measure_op_fixed_costs(*backend, g, measure_program_ops(*backend, g, 1e-6, kAnyTime));
  ASSERT_EQ(fixed.size(), ir::all_ops().size());
  EXPECT_GT(fixed[ir::op_index("mul")], 0);
  EXPECT_GT(fixed[ir::op_index("add")], 0) << "its instance of 64 floats";
  EXPECT_EQ(fixed[ir::op_index("gelu")], 0) << "64 KiB: more than kFixedCostBytes";
  EXPECT_EQ(fixed[ir::op_index("matmul")], 0) << "a GEMM: the matmul rates hold its fixed cost";
  EXPECT_EQ(fixed[ir::op_index("softmax")], 0);
}

// An op whose instance outgrows a core's cache is timed twice: beyond the caches, and on
// operands in them (its rate where a step touched little since); one within the cache once.
TEST(MeasureProgramOps, AnOpOutgrowingACoresCacheIsAlsoTimedInIt) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId big = b.param("big", {512, 1024});  // 2 MiB: an add of it moves 6 MiB
  const ir::ValueId small = b.param("small", {256, 256});
  const ir::ValueId sum = b.add(big, big);
  g.outputs = {{"sum", sum}, {"act", b.gelu(small)}};
  auto backend = kernels::make_cpu_backend();
  const ProgramOpRates rates = measure_program_ops(*backend, g, 1e-6, kAnyTime);
  ASSERT_EQ(rates.in_cache.size(), ir::all_ops().size());
  EXPECT_GT(rates.beyond_cache[ir::op_index("add")], 0);
  EXPECT_GT(rates.in_cache[ir::op_index("add")], 0);
  EXPECT_GT(rates.beyond_cache[ir::op_index("gelu")], 0);
  EXPECT_EQ(rates.in_cache[ir::op_index("gelu")], 0) << "512 KiB: in the cache already";
}

// A backend whose kernels take a set time: `fixed_s`, then `element_s` for each element of
// their result (spinning on the clock), computing nothing. Its first `stalled_adds` adds
// of more than one element take `stall_s` more, as kernels whose threads wait for a PU
// that does not run them.
class Paced : public kernels::Backend {
 public:
  Paced(double fixed_s, double element_s, int stalled_adds = 0, double stall_s = 0)
      : fixed_s_(fixed_s), element_s_(element_s), stalled_adds_(stalled_adds), stall_s_(stall_s) {}
  std::string_view name() const override { return "paced"; }
  bool supports(std::string_view, std::span<const ir::TensorType>) const override { return true; }
  void run(const ir::Node& node, std::span<const kernels::TensorRef>, const kernels::TensorRef& out) override {
    double seconds = fixed_s_ + element_s_ * static_cast<double>(out.numel());
    if (node.op == "add" && out.numel() > 1 && stalled_adds_ > 0) {
      --stalled_adds_;
      seconds += stall_s_;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
    }
  }

 private:
  double fixed_s_, element_s_;
  int stalled_adds_;
  double stall_s_;
};

// An op's rate is of the work beyond its own fixed cost, the time of its smallest instance,
// not beyond that of a kernel in general: a gelu of 20 us and 2 ns an element, where an add
// of one element costs 200 us, does 64 Ki elements in 131 us of work (beyond 200 us, its 151
// us would have left a tenth of it, and a rate 9x too high).
TEST(MeasureProgramOps, AnOpsRateIsOfTheWorkBeyondItsOwnFixedCost) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId large = b.gelu(b.param("large", {256, 256})), small = b.gelu(b.param("small", {10}));
  g.outputs = {{"large", large}, {"small", small}};
  constexpr double kFixed = 20e-6, kElement = 2e-9, kAddOfOne = 200e-6;
  Paced backend(kFixed, kElement);
  const double rate = measure_program_ops(backend, g, kAddOfOne, kAnyTime).beyond_cache[ir::op_index("gelu")];
  ASSERT_GT(rate, 0);
  const double work = 256 * 256 * kElement;
  EXPECT_NEAR(partitioner::op_flops(g, large) / rate / work, 1.0, 0.25) << "the work's time over 131 us";
}

// Paced, recording each run's op, operands and result.
class Recording : public Paced {
 public:
  struct Run {
    std::string op;
    std::vector<const void*> in;
    const void* out;
  };
  Recording(double fixed_s, double element_s) : Paced(fixed_s, element_s) {}
  void run(const ir::Node& node, std::span<const kernels::TensorRef> in, const kernels::TensorRef& out) override {
    Run r{node.op, {}, out.data};
    for (const kernels::TensorRef& t : in) r.in.push_back(t.data);
    runs.push_back(std::move(r));
    Paced::run(node, in, out);
  }
  std::vector<Run> runs;
};

// An op outgrowing a core's cache is timed in it as a step finds it there: right after
// another kernel wrote its computed operand (a relu), never its param, which a step last
// wrote a step ago; and its rate is of its own time, the writes' left out (they take as
// long as the add here: counted in, the rate would be half).
TEST(MeasureProgramOps, AnOpInTheCacheIsTimedRightAfterItsComputedOperandsAreWritten) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId param = b.param("w", {512, 1024});  // 2 MiB: the add moves 6 MiB
  const ir::ValueId sum = b.add(param, b.relu(b.param("x", {512, 1024})));
  g.outputs = {{"sum", sum}};
  constexpr double kFixed = 20e-6, kElement = 1e-9;
  Recording backend(kFixed, kElement);
  const double rate = measure_program_ops(backend, g, kFixed, kAnyTime).in_cache[ir::op_index("add")];
  ASSERT_GT(rate, 0);
  EXPECT_NEAR(partitioner::op_flops(g, sum) / rate / (512 * 1024 * kElement), 1.0, 0.25);
  std::set<const void*> written;
  for (const Recording::Run& r : backend.runs) {
    if (r.op == "relu") written.insert(r.out);
  }
  int after_writes = 0;
  for (size_t i = 1; i < backend.runs.size(); ++i) {
    const Recording::Run& run = backend.runs[i];
    if (run.op != "add") continue;
    EXPECT_FALSE(written.count(run.in[0])) << "the param was written";
    const Recording::Run& before = backend.runs[i - 1];
    if (before.op == "relu" && before.out == run.in[1]) ++after_writes;
  }
  EXPECT_GE(after_writes, 7) << "each timed run right after the write of its computed operand";
}

// The program's GEMMs beyond a core's cache are listed in program order and timed on cold
// operands, each problem once: the two of one problem take the same time, the small one is
// not listed.
TEST(MeasureProgramOps, TheGemmsBeyondACoresCacheAreTimedOnceAProblem) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId x = b.param("x", {256, 512}), w = b.param("w", {512, 512});  // 2 MiB of result and operands
  const ir::ValueId first = b.matmul(x, w), second = b.matmul(b.relu(first), w);
  const ir::ValueId batched = b.matmul(b.param("q", {8, 128, 128}), b.param("k", {8, 128, 128}), false, true);
  const ir::ValueId small = b.matmul(b.param("s", {16, 16}), b.param("t", {16, 16}));
  g.outputs = {{"y", second}, {"scores", batched}, {"small", small}};
  EXPECT_EQ(gemms_beyond_cache(g), (std::vector<ir::ValueId>{first, second, batched}));
  auto backend = kernels::make_cpu_backend();
  const ProgramOpRates rates = measure_program_ops(*backend, g, 1e-6, kAnyTime);
  ASSERT_EQ(rates.gemms_beyond_cache.size(), 3u);
  EXPECT_GT(rates.gemms_beyond_cache[0], 0);
  EXPECT_EQ(rates.gemms_beyond_cache[1], rates.gemms_beyond_cache[0]) << "one problem, timed once";
  EXPECT_GT(rates.gemms_beyond_cache[2], 0);
}

// The program's GEMMs within a core's cache are timed as a step finds them (after other
// writes and the kernels that wrote their computed operands), on one kernel thread or
// several; the 3 MiB one is left out.
TEST(MeasureGemmsAfterWrites, TheGemmsWithinACoresCacheAreTimedAfterWrites) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId hidden = b.relu(b.matmul(b.input("x", {ir::DType::f32, {64, 32}}, "x"), b.param("w", {32, 256})));
  const ir::ValueId big = b.matmul(b.param("a", {512, 512}), b.param("c", {512, 512}));  // 3 MiB
  g.outputs = {{"y", b.matmul(hidden, b.param("v", {256, 256}))}, {"big", big}};
  const std::vector<ir::ValueId> gemms = gemms_within_cache(g);
  ASSERT_EQ(gemms.size(), 2u);
  EXPECT_EQ(gemms[0], g.node(hidden).inputs[0]);  // x's, then the second layer's; not the 3 MiB one
  auto backend = kernels::make_cpu_backend();
  const int threads = kernels::cpu_threads();
  // Each time is a difference of two medians (the writes, then the writes and the GEMM):
  // on a machine loaded by other tests one try can come out at 0, "not measured". Of three
  // tries, one must time both GEMMs.
  const auto timed_all = [&](int kernel_threads) {
    kernels::set_cpu_threads(kernel_threads);
    bool all = false;
    for (int attempt = 0; attempt < 3 && !all; ++attempt) {
      const std::vector<double> seconds = measure_gemms_after_writes(*backend, g, kAnyTime);
      EXPECT_EQ(seconds.size(), 2u);
      all = seconds.size() == 2 && std::ranges::all_of(seconds, [](double t) { return t > 0; });
    }
    return all;
  };
  EXPECT_TRUE(timed_all(2));
  EXPECT_TRUE(timed_all(1));
  kernels::set_cpu_threads(threads);
}

// Adds timed on a steady machine agree: a CPU's (here: 3.7 us of fixed cost, 4 us at 16 KiB
// an operand, 25 GB/s at 64 MiB) and a GPU's, whose adds are all fixed cost up to MiB.
TEST(DoubtfulAdds, NoneWhereSmallerAddsRunAtLeastAtMemorysSpeed) {
  constexpr double KiB = 1024, MiB = 1024 * KiB;
  EXPECT_EQ(doubtful_adds(3.7e-6, {{48 * KiB, 4e-6}, {3 * MiB, 23e-6}, {48 * MiB, 1.17e-3}, {192 * MiB, 7.96e-3}}), "");
  EXPECT_EQ(doubtful_adds(5e-6, {{48 * KiB, 5e-6}, {3 * MiB, 6e-6}, {48 * MiB, 25e-6}, {192 * MiB, 70e-6}}), "");
  EXPECT_EQ(doubtful_adds(1e-6, {}), "");
}

// This machine's adds while its kernels' threads waited for a virtual CPU the host did not
// run: 5 ms each up to 1 MiB, where memory's 7.4 GB/s says 28 us at 16 KiB.
TEST(DoubtfulAdds, AnAddFarSlowerThanMemoryWouldMakeItIsNamed) {
  constexpr double KiB = 1024, MiB = 1024 * KiB;
  const std::string doubt =
      doubtful_adds(21.8e-6, {{48 * KiB, 5.49e-3}, {3 * MiB, 5.0e-3}, {48 * MiB, 6.66e-3}, {192 * MiB, 27.1e-3}});
  EXPECT_NE(doubt.find("48 KiB took 5.490 ms"), std::string::npos) << doubt;
  // Ten times its share of memory's time and no more: a steady machine's noise is not doubt.
  EXPECT_EQ(doubtful_adds(1e-6, {{1 * MiB, 9e-3}, {100 * MiB, 100e-3}}), "");
  EXPECT_NE(doubtful_adds(1e-6, {{1 * MiB, 11e-3}, {100 * MiB, 100e-3}}), "");
}

// A matmul grid timed on a steady machine agrees: larger shapes at most a few times slower
// (k of 16, n of 1024: 10x below 256x16x16 in one profile here).
TEST(DoubtfulMatmuls, NoneWhereNoLargerShapeRunsFarSlower) {
  const std::vector<partitioner::GemmPoint> steady = {
      {16, 16, 16, 2.4e9}, {256, 16, 16, 30e9}, {256, 1024, 16, 3e9}, {1024, 1024, 1024, 80e9}};
  EXPECT_EQ(doubtful_matmuls(steady), "");
  EXPECT_EQ(doubtful_matmuls({}), "");
}

// A grid timed while a kernel's second thread waited for a PU another process held: a
// 64x16x64 matmul at 0.002 GFLOP/s where the 16x16x64 ran at 7.4.
TEST(DoubtfulMatmuls, ALargerShapeFarSlowerThanASmallerOneIsNamed) {
  const std::vector<partitioner::GemmPoint> stalled = {{16, 16, 64, 7.4e9}, {64, 16, 64, 0.002e9}, {64, 64, 64, 20e9}};
  const std::string doubt = doubtful_matmuls(stalled);
  EXPECT_NE(doubt.find("64x16x64 (m, n, k) ran at 0.002 GFLOP/s"), std::string::npos) << doubt;
  EXPECT_NE(doubt.find("16x16x64's 7.400"), std::string::npos) << doubt;
  // A shape smaller in one dimension is not held to the other's rate.
  EXPECT_EQ(doubtful_matmuls({{1024, 16, 16, 50e9}, {64, 1024, 16, 0.5e9}}), "");
}

// A burst of stalls over the first timing of the adds: they are timed again, the table
// says why, and the figures kept are the steady ones (an add of 16 KiB an operand: 4 us of
// work, 12 GB/s; stalled, 0.01 GB/s).
TEST(MeasureKernels, AddsAtOddsAreTimedAgainAndTheSteadyFiguresKept) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/30, /*stall_s=*/5e-3);
  partitioner::Profile p;
  std::string table;
  measure_kernels(backend, p, table, [] {});
  EXPECT_NE(table.find("timed again (attempt 2 of 3): an add moving 48 KiB"), std::string::npos) << table;
  EXPECT_EQ(table.find("warning"), std::string::npos) << table;
  ASSERT_FALSE(p.memory_by_size.empty());
  EXPECT_GT(p.memory_by_size.front().second, 2e9) << table;
}

// Stalls that never end: three attempts, then the last one's figures kept with a warning
// (a machine may really run so), and the matmul grid timed all the same.
TEST(MeasureKernels, AddsStillAtOddsAfterTheLastAttemptAreKeptWithAWarning) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/1 << 30, /*stall_s=*/2e-3);
  partitioner::Profile p;
  std::string table;
  int asked = 0;
  measure_kernels(backend, p, table, [] {}, true, [&asked](bool mine) {
    ++asked;
    return mine;
  });
  EXPECT_EQ(asked, kTimingAttempts + 1) << "the adds three times, then the grid, whose matmuls do not stall, once";
  EXPECT_NE(table.find("attempt 3 of 3"), std::string::npos) << table;
  EXPECT_NE(table.find("warning: kept, though after 3 attempts an add moving"), std::string::npos) << table;
  EXPECT_FALSE(p.matmul_by_shape.empty());
}

// Another rank's doubt times this rank's adds again too, so that every rank times its
// matmuls at once; the table says whose.
TEST(MeasureKernels, AnotherRanksDoubtTimesTheAddsAgainHereToo) {
  Paced backend(1e-6, 1e-9);
  partitioner::Profile p;
  std::string table;
  int asked = 0;
  measure_kernels(backend, p, table, [] {}, true, [&asked](bool mine) {
    EXPECT_FALSE(mine);
    return ++asked == 1;
  });
  EXPECT_EQ(asked, 3) << "the adds twice, then the grid";
  EXPECT_NE(table.find("timed again (attempt 2 of 3): another rank's figures were at odds"), std::string::npos) << table;
}

// Bind's brief figures too: adds at odds are timed again, and the steady figures kept.
TEST(MeasureKernelsBriefly, AddsAtOddsAreTimedAgainAndTheSteadyFiguresKept) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/30, /*stall_s=*/5e-3);
  partitioner::Profile p;
  partitioner::RateCurve bytes_by_size;
  measure_kernels_briefly(backend, p, bytes_by_size);
  ASSERT_FALSE(bytes_by_size.empty());
  EXPECT_GT(bytes_by_size.front().second, 2e9) << "an add of 16 KiB an operand: 12 GB/s steady, 0.01 GB/s stalled";
}

}  // namespace
}  // namespace spmd::runtime
