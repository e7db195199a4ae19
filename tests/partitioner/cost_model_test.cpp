// The cost model reads a GEMM's shape from its op's sharding rule (batched, broadcast,
// transposed), and with measured rates costs a contraction by its shape: two matmuls of
// equal FLOP differ where their k does.
#include <gtest/gtest.h>

#include "ir/builder.h"
#include "ir/ops.h"
#include "ir/sharding_rule.h"
#include "partitioner/cost_model.h"
#include "tests/partitioner/search_fixtures.h"

namespace spmd::partitioner {
namespace {

using test::kTinyGpt;
using test::step_of;

struct Problems {
  ir::Graph g;
  ir::ValueId plain, batched, broadcast, transposed, skinny_k, square_k, add, sum;
};

Problems problems() {
  Problems p;
  ir::Builder b(p.g);
  p.plain = b.matmul(b.param("a", {32, 8}), b.param("b", {8, 16}));
  p.batched = b.matmul(b.param("c", {4, 32, 8}), b.param("d", {4, 8, 16}));
  p.broadcast = b.matmul(b.param("e", {2, 32, 8}), b.param("f", {8, 16}));
  p.transposed = b.matmul(b.param("g", {8, 32}), b.param("h", {16, 8}), true, true);
  p.skinny_k = b.matmul(b.param("i", {1024, 16}), b.param("j", {16, 1024}));
  p.square_k = b.matmul(b.param("k", {128, 1024}), b.param("l", {1024, 128}));
  const ir::ValueId x = b.param("x", {256});
  p.add = b.add(x, x);
  p.sum = b.reduce_sum(x, {0});
  return p;
}

// A device of `peak_flops` whose memory never limits: the roofline is its compute term.
DeviceModel compute_only(double peak_flops) {
  DeviceModel d;
  d.peak_flops = peak_flops, d.memory_Bps = 1e15;
  return d;
}

TEST(CostModel, AGemmsShapeIsReadFromItsRule) {
  const Problems p = problems();
  EXPECT_EQ(gemm_shape(p.g, p.plain), (GemmShape{1, 32, 16, 8}));
  EXPECT_EQ(gemm_shape(p.g, p.batched), (GemmShape{4, 32, 16, 8}));
  EXPECT_EQ(gemm_shape(p.g, p.broadcast), (GemmShape{1, 64, 16, 8}));  // the batch of one operand is rows
  EXPECT_EQ(gemm_shape(p.g, p.transposed), (GemmShape{1, 32, 16, 8}));
  EXPECT_FALSE(gemm_shape(p.g, p.add));
  EXPECT_FALSE(gemm_shape(p.g, p.sum));  // reduced within one operand
  EXPECT_FALSE(gemm_shape(p.g, 0));      // a param
}

// A lookup moves rows: gather's FLOP is its result's points, not the table's rows times
// them; scatter_add's its updates' points, one add each. Neither is a GEMM.
TEST(CostModel, ALookupCountsTheRowsItMovesNotTheTable) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId table = b.param("table", {1000, 8});
  const ir::ValueId ids = b.input("ids", {ir::DType::i32, {4}}, "ids");
  const ir::ValueId rows = b.gather(table, ids);
  ir::Attrs a;
  a.set("rows", int64_t{1000});
  const ir::ValueId summed = b.op("scatter_add", {ids, rows}, a);
  EXPECT_EQ(op_flops(g, rows), 4 * 8);
  EXPECT_EQ(op_flops(g, summed), 4 * 8);
  EXPECT_FALSE(gemm_shape(g, rows));
  EXPECT_FALSE(gemm_shape(g, summed));
}

// 1 GFLOP/s at k = 16, 4 at k = 1024: [1024,16]x[16,1024] and [128,1024]x[1024,128] have
// the same FLOP, and the first takes four times as long.
TEST(CostModel, MeasuredRatesCostAContractionByItsShape) {
  const Problems p = problems();
  ASSERT_EQ(op_flops(p.g, p.skinny_k), op_flops(p.g, p.square_k));
  std::vector<GemmPoint> grid;
  for (double m : {16.0, 1024.0}) {
    for (double n : {16.0, 1024.0}) {
      for (double k : {16.0, 1024.0}) grid.push_back({m, n, k, k == 16 ? 1e9 : 4e9});
    }
  }
  DeviceModel d = compute_only(1e12);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.skinny_k, d), op_seconds(p.g, p.square_k, d));  // the peak alone
  d.flops_by_shape = GemmRates(grid);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.skinny_k, d), op_flops(p.g, p.skinny_k) / 1e9);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.square_k, d), op_flops(p.g, p.square_k) / 4e9);
  EXPECT_TRUE(compute_bound(p.g, p.skinny_k, d));
}

// The registry counts points, not what each costs: an op's own measured rate (by its index
// in the registry) replaces the roofline for it alone, never for a GEMM, whose rate hangs on
// its shape.
TEST(CostModel, AnOpsMeasuredRateCostsThatOpAndNoGemm) {
  const Problems p = problems();
  DeviceModel d = compute_only(1e12);
  const double add_before = op_seconds(p.g, p.add, d), sum_before = op_seconds(p.g, p.sum, d);
  const double matmul_before = op_seconds(p.g, p.plain, d);
  d.flops_by_op.assign(ir::all_ops().size(), 0.0);
  d.flops_by_op[ir::op_index("add")] = 1e6;
  d.flops_by_op[ir::op_index("matmul")] = 1e6;
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.add, d), op_flops(p.g, p.add) / 1e6);
  EXPECT_GT(op_seconds(p.g, p.add, d), 1000 * add_before);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.sum, d), sum_before);        // not measured: the roofline
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.plain, d), matmul_before);   // a GEMM: the matmul rates
}

// An op's own fixed cost, where measured, replaces the common one for it alone: an oneDNN
// mul and a loop's optimizer update differ by 10x in it.
TEST(CostModel, AnOpsOwnFixedCostReplacesTheCommonOne) {
  const Problems p = problems();
  DeviceModel d = compute_only(1e12);
  d.op_latency_s = 2e-6;
  const double add_before = op_seconds(p.g, p.add, d), sum_before = op_seconds(p.g, p.sum, d);
  d.op_latency_by_op.assign(ir::all_ops().size(), 0.0);
  d.op_latency_by_op[ir::op_index("add")] = 0.25e-6;
  EXPECT_DOUBLE_EQ(d.op_latency(ir::op_index("add")), 0.25e-6);
  EXPECT_DOUBLE_EQ(d.op_latency(ir::op_index("reduce_sum")), 2e-6);
  EXPECT_DOUBLE_EQ(d.op_latency(ir::all_ops().size()), 2e-6) << "beyond the vector: the common cost";
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.add, d), add_before - 1.75e-6);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.sum, d), sum_before);  // not measured: the common cost
}

// GEMMs within the bound take their measured slowdown after the kernels that wrote their
// operands, on their compute time; larger ones and other ops do not.
TEST(CostModel, AGemmWithinTheBoundTakesItsSlowdownAfterWrites) {
  const Problems p = problems();
  DeviceModel d = compute_only(1e9);
  const double plain = op_seconds(p.g, p.plain, d), square = op_seconds(p.g, p.square_k, d);
  const double add = op_seconds(p.g, p.add, d);
  d.gemm_after_writes = 1.5;
  d.gemm_after_writes_below_bytes = op_bytes(p.g, p.plain) + 1;
  ASSERT_LT(op_bytes(p.g, p.plain), op_bytes(p.g, p.square_k));
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.plain, d), 1.5 * plain);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.square_k, d), square) << "beyond the bound";
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.add, d), add) << "not a GEMM";
}

// GEMMs from the bound on take their measured slowdown on cold operands, those of a batch of
// products theirs; those within keep theirs after writes. Without a bound (none measured
// within), every GEMM is beyond.
TEST(CostModel, AGemmBeyondTheBoundTakesItsSlowdownOnColdOperandsBatchedOrNot) {
  const Problems p = problems();
  DeviceModel d = compute_only(1e9);
  const double plain = op_seconds(p.g, p.plain, d), batched = op_seconds(p.g, p.batched, d);
  const double square = op_seconds(p.g, p.square_k, d), add = op_seconds(p.g, p.add, d);
  d.gemm_beyond_cache = 1.2, d.batched_gemm_beyond_cache = 1.6;
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.plain, d), 1.2 * plain);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.batched, d), 1.6 * batched);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.square_k, d), 1.2 * square);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.add, d), add) << "not a GEMM";
  d.gemm_after_writes = 1.5;
  d.gemm_after_writes_below_bytes = op_bytes(p.g, p.plain) + 1;
  ASSERT_GE(op_bytes(p.g, p.batched), d.gemm_after_writes_below_bytes);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.plain, d), 1.5 * plain) << "within the bound";
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.batched, d), 1.6 * batched);
  EXPECT_DOUBLE_EQ(op_seconds(p.g, p.square_k, d), 1.2 * square);
}

// A batch of dot products contracts between its operands but reads each once for one
// multiply-add per element: not a GEMM, so its own measured rate costs it.
TEST(CostModel, ABatchOfDotProductsIsNoGemm) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId x = b.param("x", {64, 32}), dy = b.param("dy", {64, 32});
  const ir::ValueId scale_grad = b.op("layernorm_scale_grad", {x, dy}, {});
  EXPECT_EQ(g.type(scale_grad).shape, (std::vector<int64_t>{32}));
  EXPECT_FALSE(gemm_shape(g, scale_grad));
  EXPECT_EQ(op_flops(g, scale_grad), 2 * 64 * 32);
}

TEST(CostModel, MatmulFlopsAreTwoPerPointOfItsIterationSpace) {
  ir::Graph g = step_of(kTinyGpt);
  int seen = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).op != "matmul" || g.type(g.node(v).inputs[0]).rank() != 2) continue;
    const ir::Shape& a = g.type(g.node(v).inputs[0]).shape;
    const ir::Shape& b = g.type(g.node(v).inputs[1]).shape;
    EXPECT_EQ(op_flops(g, v), 2.0 * static_cast<double>(a[0] * a[1] * b[1]));
    ++seen;
  }
  EXPECT_GT(seen, 0);
  ir::ValueId param = g.nodes_with_op("param").front();
  EXPECT_EQ(op_flops(g, param), 0);
}

// op_flops remembers problems by op and shapes: what it answers, for every op of two models
// asked in turn and again in reverse, is what the op's sharding rule counts.
TEST(CostModel, RememberedFlopsAreTheRulesOwn) {
  const std::vector<ir::Graph> graphs = {step_of(kTinyGpt), step_of("gpt:layers=1,d_model=16,heads=2,seq=4,vocab=8,batch=2"),
                                         step_of("mlp:layers=2,hidden=16,batch=8,features=4,classes=3")};
  auto expected = [](const ir::Graph& g, ir::ValueId v) {
    const ir::Node& n = g.node(v);
    const ir::OpTraits& t = ir::op_traits(n.op);
    if (n.is_source() || t.view || t.collective) return 0.0;
    const ir::ShardingRule rule = ir::sharding_rule(g, v);
    double points = 1;
    bool contracts = false;
    for (size_t f = 0; f < rule.factor_size.size(); ++f) {
      int places = 0;  // a lookup's table rows: replicated, in one place only, not iterated
      for (const auto& dims : rule.operands) places += std::count(dims.begin(), dims.end(), std::vector<int>{static_cast<int>(f)});
      places += std::count(rule.result.begin(), rule.result.end(), std::vector<int>{static_cast<int>(f)});
      if (t.lookup && rule.factor_kind[f] == ir::FactorKind::replicated && places == 1) continue;
      points *= static_cast<double>(rule.factor_size[f]);
      contracts = contracts || rule.factor_kind[f] == ir::FactorKind::reduction;
    }
    return contracts && n.inputs.size() > 1 && !t.lookup ? 2 * points : points;
  };
  int checked = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const ir::Graph& g : graphs) {
      for (ir::ValueId i = 0; i < g.size(); ++i) {
        const ir::ValueId v = pass == 0 ? i : g.size() - 1 - i;
        EXPECT_EQ(op_flops(g, v), expected(g, v)) << ir::value_label(g, v);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 200);
}

}  // namespace
}  // namespace spmd::partitioner
