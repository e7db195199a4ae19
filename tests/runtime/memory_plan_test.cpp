// The memory plan reuses dead buffers and never overlaps two live ones.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"
#include "runtime/memory_plan.h"

namespace spmd::runtime {
namespace {

struct Planned {
  ir::Graph g;
  std::vector<bool> transient;
  std::vector<ir::ValueId> alias;
  MemoryPlan plan;
};

Planned plan_all(ir::Graph g) {
  Planned p{std::move(g), {}, {}, {}};
  for (const ir::Node& n : p.g.nodes) {
    p.transient.push_back(!n.is_source());
    p.alias.push_back(n.op == "reshape" ? n.inputs[0] : -1);
  }
  for (size_t v = 0; v < p.alias.size(); ++v) {
    if (p.alias[v] >= 0) p.transient[v] = false;
  }
  p.plan = plan_memory(p.g, p.transient, p.alias);
  return p;
}

TEST(MemoryPlan, AChainNeedsOnlyTwoBuffers) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.param("x", {1024});
  for (int i = 0; i < 10; ++i) x = b.relu(x);
  Planned p = plan_all(g);
  EXPECT_EQ(p.plan.naive_bytes, 10u * 4096);
  EXPECT_EQ(p.plan.arena_bytes, 2u * 4096);
}

TEST(MemoryPlan, LiveBuffersNeverOverlapInATrainingStep) {
  Planned p = plan_all(ir::training_step(ir::build_model("gpt:layers=2,d_model=32,heads=2,seq=8,vocab=16,batch=2"), {}));
  const int n = p.g.size();
  auto root = [&](int v) {
    while (p.alias[v] >= 0) v = p.alias[v];
    return v;
  };
  std::vector<int> last(n);
  for (int v = 0; v < n; ++v) last[v] = v;
  for (int i = 0; i < n; ++i) {
    for (ir::ValueId v : p.g.node(i).inputs) last[root(v)] = std::max(last[root(v)], i);
  }
  for (int a = 0; a < n; ++a) {
    if (!p.transient[a]) continue;
    for (int c = a + 1; c < n; ++c) {
      if (!p.transient[c] || c > last[a]) continue;  // lifetimes [a, last[a]] and [c, ...] overlap
      size_t a0 = p.plan.offset[a], a1 = a0 + p.g.type(a).bytes();
      size_t c0 = p.plan.offset[c], c1 = c0 + p.g.type(c).bytes();
      EXPECT_TRUE(a1 <= c0 || c1 <= a0) << "values " << a << " and " << c << " overlap";
    }
  }
  EXPECT_LT(p.plan.arena_bytes, p.plan.naive_bytes / 2);
}

// A vector's partial sum all-reduced over mesh axis 0: the redistribute node the lowering
// makes.
ir::ValueId all_reduce(ir::Builder& b, ir::ValueId x) {
  ir::Attrs a;
  a.set("from", std::string("-;0"));
  a.set("to", std::string("-"));
  a.set("global", std::vector<int64_t>(b.shape(x)));
  return b.typed_op("redistribute", {x}, a, b.type(x));
}

// A collective that is the last reader of its operand's buffer writes its result over it;
// one whose operand's buffer is read afterwards, here through a view of it, may not.
TEST(MemoryPlan, ACollectiveWritesOverItsOperandOnlyWhereNothingReadsItAfter) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId w = b.param("w", {64});
  const ir::ValueId gone = b.relu(w), kept = b.relu(w);
  const ir::ValueId over = all_reduce(b, gone);
  const ir::ValueId view = b.reshape(kept, {8, 8});
  const ir::ValueId beside = all_reduce(b, kept);
  g.outputs.emplace_back("a", b.op("add", {over, beside}));
  g.outputs.emplace_back("b", b.relu(view));
  const ProgramMemory m = plan_program_memory(g);
  EXPECT_EQ(m.alias[over], gone);
  EXPECT_EQ(m.alias[beside], -1) << "its operand is read after it, through a view";
  EXPECT_NE(m.arena.offset[beside], m.arena.offset[kept]);
}

// Apart, the buffers collectives move lie first, below moved_bytes, and the others above,
// and two buffers live at once still never overlap.
TEST(MemoryPlan, ApartTheMovedBuffersLieFirstAndTheRestAfter) {
  ir::Graph g;
  ir::Builder b(g);
  const ir::ValueId w = b.param("w", {64});
  const ir::ValueId before = b.relu(w), sent = b.relu(before);
  const ir::ValueId reduced = all_reduce(b, sent);
  const ir::ValueId view = b.reshape(reduced, {8, 8});
  const ir::ValueId after = b.relu(b.reshape(view, {64}));
  g.outputs.emplace_back("out", b.op("add", {after, before}));
  const ProgramMemory anywhere = plan_program_memory(g);
  EXPECT_EQ(anywhere.moved_bytes, 0u);
  const ProgramMemory m = plan_program_memory(g, partitioner::PeerBuffers::apart);
  for (ir::ValueId v : {sent, reduced, view}) EXPECT_TRUE(m.moved[v]) << v;
  for (ir::ValueId v : {before, after}) EXPECT_FALSE(m.moved[v]) << v;
  ASSERT_GT(m.moved_bytes, 0u);
  EXPECT_LT(m.arena.offset[m.buffer_of(reduced)], static_cast<ptrdiff_t>(m.moved_bytes));
  EXPECT_LT(m.arena.offset[sent], static_cast<ptrdiff_t>(m.moved_bytes));
  EXPECT_GE(m.arena.offset[before], static_cast<ptrdiff_t>(m.moved_bytes));
  EXPECT_GE(m.arena.offset[after], static_cast<ptrdiff_t>(m.moved_bytes));
  // `before` is live across the collective: apart or not, it overlaps none of its buffers.
  for (ir::ValueId v : {sent, m.buffer_of(reduced)}) {
    const ptrdiff_t a0 = m.arena.offset[before], a1 = a0 + 256, c0 = m.arena.offset[v], c1 = c0 + 256;
    EXPECT_TRUE(a1 <= c0 || c1 <= a0) << "value " << v;
  }
  EXPECT_GE(m.arena.arena_bytes, anywhere.arena.arena_bytes);
}

}  // namespace
}  // namespace spmd::runtime
