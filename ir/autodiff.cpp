#include "ir/autodiff.h"

#include <vector>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/ops.h"

namespace spmd::ir {
namespace {

// Which nodes depend on some param: the only ones worth differentiating.
std::vector<bool> depends_on_params(const Graph& g) {
  std::vector<bool> dep(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    dep[i] = n.op == "param";
    for (ValueId v : n.inputs) dep[i] = dep[i] || dep[v];
  }
  return dep;
}

}  // namespace

std::map<ValueId, ValueId> append_gradients(Graph& g, ValueId loss) {
  if (g.type(loss).rank() != 0) throw Error("the loss must be a scalar, got " + to_string(g.type(loss)));
  std::vector<bool> dep = depends_on_params(g);
  Builder b(g);
  std::vector<ValueId> grad(g.nodes.size(), -1);
  grad[loss] = b.constant(1.0);
  std::map<ValueId, ValueId> param_grads;
  for (ValueId v = loss; v >= 0; --v) {
    if (grad[v] < 0 || !dep[v]) continue;
    const Node n = g.node(v);  // a copy: the builder appends to g.nodes
    if (n.op == "param") {
      param_grads[v] = grad[v];
      continue;
    }
    const OpDef& def = op_def(n.op);
    if (!def.grad) throw Error("op '" + n.op + "' has no gradient (at " + value_label(g, v) + ")");
    std::vector<ValueId> operand_grads = def.grad(b, n, v, grad[v]);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId x = n.inputs[i];
      if (operand_grads[i] < 0 || !dep[x]) continue;
      if (g.type(operand_grads[i]) != g.type(x)) {
        throw Error("gradient rule of '" + n.op + "' gives " + to_string(g.type(operand_grads[i])) +
                    " for operand " + std::to_string(i) + " of type " + to_string(g.type(x)));
      }
      grad[x] = b.accumulate(grad[x], operand_grads[i]);
    }
  }
  return param_grads;
}

Graph training_step(const Graph& model, const Optimizer& opt) {
  if (opt.kind != "adamw" && opt.kind != "sgd") {
    throw Error("unknown optimizer '" + opt.kind + "' (expected adamw or sgd)");
  }
  Graph g = model;
  std::map<ValueId, ValueId> grads = append_gradients(g, g.output("loss"));
  Builder b(g);
  ValueId lr = b.input("lr", {DType::f32, {}}, "lr");
  ValueId step = opt.kind == "adamw" ? b.input("step", {DType::f32, {}}, "step") : -1;
  g.meta.set("lr", opt.lr);
  g.meta.set("optimizer", opt.kind);
  for (auto [p, dp] : grads) {
    const std::string name = g.node(p).name;
    Shape shape = g.type(p).shape;
    auto ema = [&](const char* op, ValueId state, double decay, double gain) {
      Attrs a;
      a.set("decay", decay);
      a.set("gain", gain);
      ValueId next = b.op(op, {state, dp}, a);
      g.updates.emplace_back(state, next);
      return next;
    };
    ValueId next_p;
    if (opt.kind == "sgd") {
      ValueId v = ema("ema", b.state(name + ".momentum", shape), opt.momentum, 1.0);
      next_p = b.op("sgd", {p, v, lr});
    } else {
      ValueId m = ema("ema", b.state(name + ".adam_m", shape), opt.beta1, 1.0 - opt.beta1);
      ValueId v = ema("ema_sq", b.state(name + ".adam_v", shape), opt.beta2, 1.0 - opt.beta2);
      Attrs a;
      a.set("beta1", opt.beta1);
      a.set("beta2", opt.beta2);
      a.set("eps", opt.eps);
      a.set("weight_decay", shape.size() >= 2 ? opt.weight_decay : 0.0);
      next_p = b.op("adamw", {p, m, v, lr, step}, a);
    }
    g.updates.emplace_back(p, next_p);
  }
  // Gradient rules also give gradients of operands that need none (a constant's): drop them.
  return without_dead_code(g);
}

}  // namespace spmd::ir
