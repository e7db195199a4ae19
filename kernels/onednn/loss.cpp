// cross_entropy and its gradient, with oneDNN's vectorised (log_)softmax doing the
// exponentials over each row of logits and a row loop picking out the labels.
#include <string>

#include "common/error.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"
#include "kernels/onednn/softmax.h"

namespace spmd::kernels::cpu {
namespace {

void check_labels(const char* op, const TensorRef& labels, int64_t classes) {
  const int32_t* label = labels.i32();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (label[i] < 0 || label[i] >= classes) {
      throw Error(std::string(op) + ": label " + std::to_string(label[i]) + " out of range [0, " +
                  std::to_string(classes) + ") at position " + std::to_string(i));
    }
  }
}

// logits[...,C], labels[...] -> [...]: -log_softmax(logits)[label].
void cross_entropy(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                   const TensorRef& out) {
  const int64_t rows = in[1].numel(), classes = in[0].type.shape.back();
  check_labels(node.op.c_str(), in[1], classes);
  float* log_probs = ctx.scratch(rows * classes);
  softmax_rows(ctx, true, in[0].f32(), log_probs, rows, classes);
  const int32_t* label = in[1].i32();
  for (int64_t r = 0; r < rows; ++r) out.f32()[r] = -log_probs[r * classes + label[r]];
}

// logits, labels, dloss[...] -> [...,C]: dloss * (softmax(logits) - onehot(label)).
void cross_entropy_grad(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                        const TensorRef& out) {
  const int64_t rows = in[1].numel(), classes = in[0].type.shape.back();
  check_labels(node.op.c_str(), in[1], classes);
  softmax_rows(ctx, false, in[0].f32(), out.f32(), rows, classes);
  const int32_t* label = in[1].i32();
  const float* dloss = in[2].f32();
  parallel_chunks(rows, classes, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* g = out.f32() + r * classes;
      g[label[r]] -= 1.f;
      const float scale = dloss[r];
#pragma omp simd
      for (int64_t j = 0; j < classes; ++j) g[j] *= scale;
    }
  });
}

}  // namespace

void add_loss_kernels(KernelTable& table) {
  table["cross_entropy"] = cross_entropy;
  table["cross_entropy_grad"] = cross_entropy_grad;
}

}  // namespace spmd::kernels::cpu
