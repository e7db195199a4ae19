// Elementwise ops: numpy-broadcasting binaries, unaries, and the gradients of the
// nonlinearities.
#include <cmath>

#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

// sqrt(2/pi), the constant of the tanh approximation of gelu.
constexpr double kGeluC = 0.7978845608028654;
constexpr double kGeluA = 0.044715;

double gelu(double x) { return 0.5 * x * (1.0 + std::tanh(kGeluC * (x + kGeluA * x * x * x))); }

double gelu_derivative(double x) {
  const double t = std::tanh(kGeluC * (x + kGeluA * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kGeluC * (1.0 + 3.0 * kGeluA * x * x);
}

template <double (*F)(double)>
RefTensor unary(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = F(in[0]->data[i]);
  return out;
}

template <double (*F)(double, double)>
RefTensor binary(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  if (in[0]->type.shape == node.type.shape && in[1]->type.shape == node.type.shape) {
    // No broadcasting (the common case, and hot in finite-difference checks).
    for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = F(in[0]->data[i], in[1]->data[i]);
    return out;
  }
  for (int64_t i = 0; i < node.type.numel(); ++i) {
    const Index index = unravel(i, node.type.shape);
    const double a = in[0]->data[broadcast_source(index, in[0]->type.shape)];
    const double b = in[1]->data[broadcast_source(index, in[1]->type.shape)];
    out.data[i] = F(a, b);
  }
  return out;
}

double neg(double x) { return -x; }
double exp_(double x) { return std::exp(x); }
double log_(double x) { return std::log(x); }
double sqrt_(double x) { return std::sqrt(x); }
double rsqrt(double x) { return 1.0 / std::sqrt(x); }
double tanh_(double x) { return std::tanh(x); }
double relu(double x) { return x > 0.0 ? x : 0.0; }

double add(double a, double b) { return a + b; }
double sub(double a, double b) { return a - b; }
double mul(double a, double b) { return a * b; }
double div(double a, double b) { return a / b; }
// Gradients take (x, dy).
double relu_grad(double x, double dy) { return x > 0.0 ? dy : 0.0; }
double gelu_grad(double x, double dy) { return dy * gelu_derivative(x); }

// x[...,S,S] {fill}: entries above the diagonal (column > row) set to fill.
RefTensor causal_mask(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t s = node.type.shape.back();
  const double fill = node.attrs.f("fill");
  for (int64_t i = 0; i < node.type.numel(); ++i) {
    const int64_t row = (i / s) % s, col = i % s;
    out.data[i] = col > row ? fill : in[0]->data[i];
  }
  return out;
}

}  // namespace

void add_elementwise_ops(RefTable& table) {
  table["neg"] = unary<neg>;
  table["exp"] = unary<exp_>;
  table["log"] = unary<log_>;
  table["sqrt"] = unary<sqrt_>;
  table["rsqrt"] = unary<rsqrt>;
  table["tanh"] = unary<tanh_>;
  table["relu"] = unary<relu>;
  table["gelu"] = unary<gelu>;
  table["add"] = binary<add>;
  table["sub"] = binary<sub>;
  table["mul"] = binary<mul>;
  table["div"] = binary<div>;
  table["relu_grad"] = binary<relu_grad>;
  table["gelu_grad"] = binary<gelu_grad>;
  table["causal_mask"] = causal_mask;
}

}  // namespace spmd::kernels::reference
