// layernorm over the last axis and its gradients. Per row: mean, rstd = 1/sqrt(var + eps)
// with the biased variance, xhat = (x - mean) * rstd.
#include <cmath>

#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

struct RowStats {
  double mean, rstd;
};

RowStats row_stats(const double* x, int64_t d, double eps) {
  double sum = 0.0;
  for (int64_t j = 0; j < d; ++j) sum += x[j];
  const double mean = sum / static_cast<double>(d);
  double sq = 0.0;
  for (int64_t j = 0; j < d; ++j) sq += (x[j] - mean) * (x[j] - mean);
  return {mean, 1.0 / std::sqrt(sq / static_cast<double>(d) + eps)};
}

// x, scale[D], bias[D] -> scale * xhat + bias.
RefTensor layernorm(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t d = node.type.shape.back();
  const double eps = node.attrs.f("eps");
  for (int64_t r = 0; r < node.type.numel() / d; ++r) {
    const double* x = in[0]->data.data() + r * d;
    const RowStats st = row_stats(x, d, eps);
    for (int64_t j = 0; j < d; ++j) {
      out.data[r * d + j] = in[1]->data[j] * (x[j] - st.mean) * st.rstd + in[2]->data[j];
    }
  }
  return out;
}

// x, scale, dy -> dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * scale.
RefTensor layernorm_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t d = node.type.shape.back();
  const double eps = node.attrs.f("eps");
  for (int64_t r = 0; r < node.type.numel() / d; ++r) {
    const double* x = in[0]->data.data() + r * d;
    const double* dy = in[2]->data.data() + r * d;
    const RowStats st = row_stats(x, d, eps);
    double mean_g = 0.0, mean_gx = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double g = dy[j] * in[1]->data[j];
      mean_g += g;
      mean_gx += g * (x[j] - st.mean) * st.rstd;
    }
    mean_g /= static_cast<double>(d);
    mean_gx /= static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j) {
      const double g = dy[j] * in[1]->data[j];
      const double xhat = (x[j] - st.mean) * st.rstd;
      out.data[r * d + j] = st.rstd * (g - mean_g - xhat * mean_gx);
    }
  }
  return out;
}

// x, dy -> [D]: sum over rows of dy * xhat.
RefTensor layernorm_scale_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t d = in[0]->type.shape.back();
  const double eps = node.attrs.f("eps");
  for (int64_t r = 0; r < in[0]->type.numel() / d; ++r) {
    const double* x = in[0]->data.data() + r * d;
    const double* dy = in[1]->data.data() + r * d;
    const RowStats st = row_stats(x, d, eps);
    for (int64_t j = 0; j < d; ++j) out.data[j] += dy[j] * (x[j] - st.mean) * st.rstd;
  }
  return out;
}

}  // namespace

void add_normalization_ops(RefTable& table) {
  table["layernorm"] = layernorm;
  table["layernorm_grad"] = layernorm_grad;
  table["layernorm_scale_grad"] = layernorm_scale_grad;
}

}  // namespace spmd::kernels::reference
