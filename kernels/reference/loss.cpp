// cross_entropy and its gradient over the last axis (classes); labels are i32 values held as
// exact doubles. A label outside [0, C) is the user's error.
#include <cmath>
#include <limits>
#include <string>

#include "common/error.h"
#include "kernels/reference/ops.h"
#include "kernels/reference/util.h"

namespace spmd::kernels::reference {
namespace {

int64_t checked_label(const char* op, double label, int64_t classes, int64_t position) {
  const auto c = static_cast<int64_t>(label);
  if (c < 0 || c >= classes) {
    throw Error(std::string(op) + ": label " + std::to_string(c) + " out of range [0, " +
                std::to_string(classes) + ") at position " + std::to_string(position));
  }
  return c;
}

double logsumexp(const double* x, int64_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) max = std::max(max, x[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) sum += std::exp(x[j] - max);
  return max + std::log(sum);
}

// logits[...,C], labels[...] -> [...]: logsumexp(logits) - logits[label].
RefTensor cross_entropy(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t classes = in[0]->type.shape.back();
  for (int64_t r = 0; r < in[1]->type.numel(); ++r) {
    const double* logits = in[0]->data.data() + r * classes;
    const int64_t label = checked_label("cross_entropy", in[1]->data[r], classes, r);
    out.data[r] = logsumexp(logits, classes) - logits[label];
  }
  return out;
}

// logits, labels, dloss[...] -> [...,C]: dloss * (softmax(logits) - onehot(label)).
RefTensor cross_entropy_grad(const ir::Node& node, Operands in) {
  RefTensor out = zeros(node.type);
  const int64_t classes = in[0]->type.shape.back();
  for (int64_t r = 0; r < in[1]->type.numel(); ++r) {
    const double* logits = in[0]->data.data() + r * classes;
    const int64_t label = checked_label("cross_entropy_grad", in[1]->data[r], classes, r);
    const double lse = logsumexp(logits, classes);
    for (int64_t j = 0; j < classes; ++j) {
      const double onehot = j == label ? 1.0 : 0.0;
      out.data[r * classes + j] = in[2]->data[r] * (std::exp(logits[j] - lse) - onehot);
    }
  }
  return out;
}

}  // namespace

void add_loss_ops(RefTable& table) {
  table["cross_entropy"] = cross_entropy;
  table["cross_entropy_grad"] = cross_entropy_grad;
}

}  // namespace spmd::kernels::reference
