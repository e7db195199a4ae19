// softmax, log_softmax {axis} and their gradients, one (outer, inner) line along the axis at
// a time. Max-subtracted so that large logits stay finite.
#include <cmath>
#include <limits>

#include "ir/ops.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

AxisSplit split_for(const ir::Node& node, const ir::Shape& shape) {
  return split_at(shape,
                  ir::normalize_axis(node.attrs.i("axis", -1), static_cast<int>(shape.size())));
}

// max and log(sum(exp(x - max))) of one line.
struct LineStats {
  double max, log_sum;
};

LineStats line_stats(const double* x, const AxisSplit& s, int64_t o, int64_t i) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < s.axis; ++k) max = std::max(max, x[s.at(o, k, i)]);
  double sum = 0.0;
  for (int64_t k = 0; k < s.axis; ++k) sum += std::exp(x[s.at(o, k, i)] - max);
  return {max, std::log(sum)};
}

template <bool kLog>
RefTensor softmax_like(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const AxisSplit s = split_for(node, node.type.shape);
  const double* x = in[0]->data.data();
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const LineStats st = line_stats(x, s, o, i);
      for (int64_t k = 0; k < s.axis; ++k) {
        const double shifted = x[s.at(o, k, i)] - st.max - st.log_sum;
        out.data[s.at(o, k, i)] = kLog ? shifted : std::exp(shifted);
      }
    }
  }
  return out;
}

// y = softmax(x), dy -> y * (dy - sum(dy * y)).
RefTensor softmax_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const AxisSplit s = split_for(node, node.type.shape);
  const double* y = in[0]->data.data();
  const double* dy = in[1]->data.data();
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      double dot = 0.0;
      for (int64_t k = 0; k < s.axis; ++k) dot += dy[s.at(o, k, i)] * y[s.at(o, k, i)];
      for (int64_t k = 0; k < s.axis; ++k) {
        out.data[s.at(o, k, i)] = y[s.at(o, k, i)] * (dy[s.at(o, k, i)] - dot);
      }
    }
  }
  return out;
}

// y = log_softmax(x), dy -> dy - exp(y) * sum(dy).
RefTensor log_softmax_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const AxisSplit s = split_for(node, node.type.shape);
  const double* y = in[0]->data.data();
  const double* dy = in[1]->data.data();
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      double sum = 0.0;
      for (int64_t k = 0; k < s.axis; ++k) sum += dy[s.at(o, k, i)];
      for (int64_t k = 0; k < s.axis; ++k) {
        out.data[s.at(o, k, i)] = dy[s.at(o, k, i)] - std::exp(y[s.at(o, k, i)]) * sum;
      }
    }
  }
  return out;
}

}  // namespace

void add_softmax_ops(RefTable& table) {
  table["softmax"] = softmax_like<false>;
  table["log_softmax"] = softmax_like<true>;
  table["softmax_grad"] = softmax_grad;
  table["log_softmax_grad"] = log_softmax_grad;
}

}  // namespace spmd::kernels::reference
