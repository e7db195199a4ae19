// Every op's gradient rule against central finite differences, all in float64 through the
// reference kernels: the loss is sum(y * w) for a fixed random w, so every element of the
// result's gradient is exercised.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/builder.h"
#include "kernels/reference/reference.h"

namespace spmd::ir {
namespace {

using kernels::RefTensor;
using BuildFn = std::function<ValueId(Builder&, const std::vector<ValueId>&)>;

struct GradCase {
  std::string name;
  std::vector<Shape> params;
  BuildFn build;
  bool positive = false;  // params drawn from [0.5, 2] (log, sqrt, div ...)
};

RefTensor random_tensor(TensorType t, std::mt19937& rng, bool positive) {
  std::uniform_real_distribution<double> u(positive ? 0.5 : -1.0, positive ? 2.0 : 1.0);
  RefTensor r{t, std::vector<double>(static_cast<size_t>(t.numel()))};
  for (double& x : r.data) x = u(rng);
  return r;
}

class Harness {
 public:
  explicit Harness(const GradCase& c) : c_(c), b_(g_) {
    for (size_t i = 0; i < c.params.size(); ++i) params_.push_back(b_.param("p" + std::to_string(i), c.params[i]));
    ValueId y = c.build(b_, params_);
    ValueId w = b_.input("w", b_.type(y), "w");
    std::vector<int64_t> axes(b_.type(y).shape.size());
    for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
    ValueId prod = b_.mul(y, w);
    loss_ = axes.empty() ? prod : b_.reduce_sum(prod, axes);
    std::mt19937 rng(1);
    for (ValueId p : params_) sources_[p] = random_tensor(g_.type(p), rng, c.positive);
    sources_[w] = random_tensor(g_.type(w), rng, false);
    for (ValueId v : g_.nodes_with_op("input")) {
      if (!sources_.count(v)) sources_[v] = ids(g_.type(v), rng);  // ids and labels
    }
    forward_size_ = g_.size();
    grads_ = append_gradients(g_, loss_);
  }

  double loss() const { return kernels::evaluate_graph(forward(), sources_)[loss_].data[0]; }

  void check() {
    std::vector<RefTensor> values = kernels::evaluate_graph(g_, sources_);
    for (ValueId p : params_) {
      ASSERT_TRUE(grads_.count(p)) << c_.name << ": no gradient for %" << g_.node(p).name;
      const RefTensor& analytic = values[grads_[p]];
      ASSERT_EQ(analytic.type, g_.type(p)) << c_.name;
      for (size_t i = 0; i < analytic.data.size(); ++i) {
        double numeric = central_difference(p, i);
        // Central differences in float64 with h = 1e-6 are accurate to ~1e-8 here.
        EXPECT_NEAR(analytic.data[i], numeric, 1e-6 * (1 + std::abs(numeric)))
            << c_.name << ": d loss / d %" << g_.node(p).name << "[" << i << "]";
      }
    }
  }

 private:
  Graph forward() const {
    Graph f = g_;
    f.nodes.resize(static_cast<size_t>(forward_size_));
    return f;
  }
  double central_difference(ValueId p, size_t i) {
    const double h = 1e-6;
    double x = sources_[p].data[i];
    sources_[p].data[i] = x + h;
    double up = loss();
    sources_[p].data[i] = x - h;
    double down = loss();
    sources_[p].data[i] = x;
    return (up - down) / (2 * h);
  }
  static RefTensor ids(TensorType t, std::mt19937& rng) {
    std::uniform_int_distribution<int> u(0, 3);
    RefTensor r{t, std::vector<double>(static_cast<size_t>(t.numel()))};
    for (double& x : r.data) x = u(rng);
    return r;
  }

  const GradCase& c_;
  Graph g_;
  Builder b_;
  std::vector<ValueId> params_;
  ValueId loss_ = -1;
  int forward_size_ = 0;
  std::map<ValueId, RefTensor> sources_;
  std::map<ValueId, ValueId> grads_;
};

std::vector<GradCase> cases() {
  using P = const std::vector<ValueId>&;
  auto unary = [](const char* op, bool positive = false) {
    return GradCase{op, {{2, 3}}, [op](Builder& b, P p) { return b.op(op, {p[0]}); }, positive};
  };
  auto binary = [](const char* op, Shape a, Shape c, bool positive = false) {
    return GradCase{std::string(op) + to_string(a) + to_string(c), {a, c},
                    [op](Builder& b, P p) { return b.op(op, {p[0], p[1]}); }, positive};
  };
  auto ids_input = [](Builder& b, Shape s) { return b.input("ids", {DType::i32, std::move(s)}, "ids"); };
  return {
      {"matmul", {{3, 4}, {4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1]); }},
      {"matmul_ta", {{4, 3}, {4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], true); }},
      {"matmul_tb", {{3, 4}, {5, 4}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], false, true); }},
      {"matmul_ta_tb", {{4, 3}, {5, 4}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], true, true); }},
      {"matmul_batched", {{2, 3, 4}, {2, 4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1]); }},
      {"matmul_batched_tb", {{2, 3, 4}, {2, 5, 4}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], false, true); }},
      {"matmul_shared_weight", {{2, 3, 4}, {4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1]); }},
      {"matmul_shared_weight_tb", {{2, 3, 4}, {5, 4}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], false, true); }},
      {"matmul_shared_weight_ta", {{2, 4, 3}, {4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1], true); }},
      {"matmul_shared_left", {{3, 4}, {2, 4, 5}}, [](Builder& b, P p) { return b.matmul(p[0], p[1]); }},
      binary("add", {2, 3}, {2, 3}), binary("add", {2, 3}, {3}), binary("add", {2, 1}, {1, 3}),
      binary("sub", {2, 3}, {3}), binary("mul", {2, 3}, {2, 1}), binary("mul", {3}, {2, 3}),
      binary("div", {2, 3}, {3}, true), binary("div", {1, 3}, {2, 3}, true),
      unary("neg"), unary("exp"), unary("log", true), unary("sqrt", true), unary("rsqrt", true),
      unary("tanh"), unary("relu"), unary("gelu"),
      {"reduce_sum", {{2, 3, 4}}, [](Builder& b, P p) { return b.reduce_sum(p[0], {1}); }},
      {"reduce_sum_keepdims", {{2, 3, 4}}, [](Builder& b, P p) { return b.reduce_sum(p[0], {0, 2}, true); }},
      {"reduce_mean", {{2, 3, 4}}, [](Builder& b, P p) { return b.reduce_mean(p[0], {-1}); }},
      {"reduce_mean_all", {{2, 3}}, [](Builder& b, P p) { return b.reduce_mean(p[0], {0, 1}); }},
      {"reduce_max", {{2, 3, 4}}, [](Builder& b, P p) { return b.reduce("max", p[0], {1}); }},
      {"softmax", {{2, 5}}, [](Builder& b, P p) { return b.softmax(p[0], -1); }},
      {"softmax_axis0", {{3, 2}}, [](Builder& b, P p) { return b.softmax(p[0], 0); }},
      {"log_softmax", {{2, 5}}, [](Builder& b, P p) { return b.log_softmax(p[0], -1); }},
      {"layernorm", {{2, 3, 5}, {5}, {5}}, [](Builder& b, P p) { return b.layernorm(p[0], p[1], p[2]); }},
      {"transpose", {{2, 3, 4}}, [](Builder& b, P p) { return b.transpose(p[0], {2, 0, 1}); }},
      {"reshape", {{2, 6}}, [](Builder& b, P p) { return b.reshape(p[0], {3, 4}); }},
      {"broadcast", {{3, 1}}, [](Builder& b, P p) { return b.broadcast(p[0], {2, 3, 4}); }},
      {"slice", {{4, 5}}, [](Builder& b, P p) { return b.slice(p[0], {1, 0}, {3, 4}); }},
      {"concat", {{2, 3}, {2, 2}}, [](Builder& b, P p) { return b.concat({p[0], p[1]}, 1); }},
      {"gather", {{4, 3}}, [=](Builder& b, P p) { return b.gather(p[0], ids_input(b, {2, 5})); }},
      {"causal_mask", {{2, 3, 3}}, [](Builder& b, P p) { return b.causal_mask(p[0], -3.0); }},
      {"cross_entropy", {{3, 4}}, [=](Builder& b, P p) { return b.cross_entropy(p[0], ids_input(b, {3})); }},
      {"attention_chain", {{2, 4, 6}, {6, 6}},
       [](Builder& b, P p) {
         ValueId q = b.matmul(p[0], p[1]);
         ValueId s = b.scale(b.matmul(q, p[0], false, true), 0.5);
         return b.matmul(b.softmax(b.causal_mask(s, -1e9)), p[0]);
       }},
  };
}

class GradientRule : public ::testing::TestWithParam<GradCase> {};

TEST_P(GradientRule, MatchesCentralDifferences) { Harness(GetParam()).check(); }

INSTANTIATE_TEST_SUITE_P(EveryOp, GradientRule, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n + "_" + std::to_string(info.index);
                         });

TEST(TrainingStep, UpdatesEveryParamAndItsAdamState) {
  Graph g;
  Builder b(g);
  ValueId w = b.param("w", {3, 2});
  ValueId bias = b.param("b", {2}, "zeros");
  ValueId x = b.input("x", {DType::f32, {4, 3}}, "features");
  g.outputs.emplace_back("loss", b.reduce_mean(b.add(b.matmul(x, w), bias), {0, 1}));
  Graph step = training_step(g, Optimizer{});
  // Each param: the param itself and its two moments.
  EXPECT_EQ(step.updates.size(), 6u);
  EXPECT_EQ(step.nodes_with_op("adamw").size(), 2u);
  EXPECT_TRUE(step.find("w.adam_m").has_value());
  EXPECT_TRUE(step.find("b.adam_v").has_value());
  EXPECT_EQ(step.node(step.find("step").value()).op, "input");
}

TEST(TrainingStep, RejectsUnknownOptimizer) {
  Graph g;
  Builder b(g);
  g.outputs.emplace_back("loss", b.reduce_sum(b.param("w", {2}), {0}));
  Optimizer opt;
  opt.kind = "lbfgs";
  EXPECT_THROW(training_step(g, opt), Error);
}

}  // namespace
}  // namespace spmd::ir
