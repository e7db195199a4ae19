// Internal to the CPU backend: softmax over the rows of a [rows, cols] buffer, shared by the
// softmax ops and the cross-entropy kernels.
#pragma once

#include <cstdint>

#include "kernels/onednn/context.h"

namespace spmd::kernels::cpu {

// y[r,:] = softmax(x[r,:]), or log_softmax when `log`.
void softmax_rows(CpuContext& ctx, bool log, const float* x, float* y, int64_t rows, int64_t cols);

}  // namespace spmd::kernels::cpu
