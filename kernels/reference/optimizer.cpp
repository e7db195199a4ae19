// Optimizer updates as elementwise ops over a parameter (or state) and its gradient. The
// learning rate and step number are scalar operands.
#include <cmath>

#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

// x, g {decay, gain} -> decay*x + gain*g (kSquare: gain*g*g).
template <bool kSquare>
RefTensor ema(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const double decay = node.attrs.f("decay"), gain = node.attrs.f("gain");
  for (size_t i = 0; i < out.data.size(); ++i) {
    const double g = in[1]->data[i];
    out.data[i] = decay * in[0]->data[i] + gain * (kSquare ? g * g : g);
  }
  return out;
}

// p, v, lr -> p - lr*v.
RefTensor sgd(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const double lr = in[2]->data[0];
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = in[0]->data[i] - lr * in[1]->data[i];
  return out;
}

// p, m, v, lr, step -> p - lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p) with the
// bias-corrected moments mhat = m / (1 - beta1^step), vhat = v / (1 - beta2^step).
RefTensor adamw(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const double beta1 = node.attrs.f("beta1"), beta2 = node.attrs.f("beta2");
  const double eps = node.attrs.f("eps"), weight_decay = node.attrs.f("weight_decay");
  const double lr = in[3]->data[0], step = in[4]->data[0];
  const double correction1 = 1.0 - std::pow(beta1, step);
  const double correction2 = 1.0 - std::pow(beta2, step);
  for (size_t i = 0; i < out.data.size(); ++i) {
    const double p = in[0]->data[i];
    const double mhat = in[1]->data[i] / correction1;
    const double vhat = in[2]->data[i] / correction2;
    out.data[i] = p - lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * p);
  }
  return out;
}

}  // namespace

void add_optimizer_ops(RefTable& table) {
  table["ema"] = ema<false>;
  table["ema_sq"] = ema<true>;
  table["sgd"] = sgd;
  table["adamw"] = adamw;
}

}  // namespace spmd::kernels::reference
