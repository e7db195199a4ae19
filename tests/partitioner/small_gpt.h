// The small gpt the partitioner's unit tests lower, and its plan under a built-in strategy.
#pragma once

#include <string>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/choose.h"

namespace spmd::partitioner {

inline const char* kSmallGpt = "gpt:layers=2,d_model=48,heads=24,seq=8,vocab=32,batch=24";

inline ir::Graph small_gpt_step() { return ir::training_step(ir::build_model(kSmallGpt), {}); }

// `strategy` ("dp", "zero", ...) planned for `g` on `devices` devices.
inline Plan strategy_plan(const ir::Graph& g, const std::string& strategy, int devices) {
  PlanRequest request;
  request.strategy = strategy;
  return choose_plan(request, g, devices);
}

}  // namespace spmd::partitioner
