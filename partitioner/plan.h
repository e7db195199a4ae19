// A Plan: the mesh and a sharding for every value of a training-step graph. It serialises to
// JSON, which `spmd plan --json` writes and `spmd run --plan` reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collectives/layout.h"
#include "ir/graph.h"
#include "partitioner/mesh.h"

namespace spmd::partitioner {

// Per dimension the mesh axes it is split over (major first), and the axes over which it is
// a pending partial sum; everything else replicated (JAX's PartitionSpec, OneFlow's SBP).
using Sharding = collectives::Layout;

// "[data, -]", "[data.model, -] partial(model)", "[]" for a replicated scalar.
std::string sharding_text(const Sharding& s, const Mesh& mesh);

// What a plan is predicted to cost per step and device (simulator.h).
struct PlanCost {
  double step_time_s = 0, exposed_comm_s = 0;
  size_t peak_bytes = 0;
  bool operator==(const PlanCost&) const = default;
};

// The schedule a plan was costed with beyond its collectives (tuning.h): ZeRO's gathers of
// params issued `prefetch` ahead, gradient buckets of at most `bucket_bytes` per device (0:
// none). A Job runs it unless told otherwise.
struct PlanSchedule {
  int prefetch = 1;
  double bucket_bytes = 0;
  bool overlap = true;  // collectives overlap compute, else block (tuning.h)
  bool operator==(const PlanSchedule&) const = default;
};

struct Plan {
  std::string model;                 // the graph's meta `model`, to catch a plan for another model
  Mesh mesh;
  std::vector<Sharding> shardings;   // per value of the graph
  std::vector<std::string> origin;   // per value: the tactic that sharded it, "" if none did
  // Where known: per mesh axis the names of the topology levels it spans (placement.h), and
  // the predicted cost. Written to the JSON form as each axis's "levels" and "predicted".
  std::vector<std::vector<std::string>> axis_levels;
  std::optional<PlanCost> predicted;
  // Whether the per-device program recomputes activations for backward instead of keeping
  // them (ir/rematerialize.h): "rematerialize": true in the JSON form.
  bool rematerialize = false;
  // Where the plan was costed (the search's winner, `spmd plan --predict`): the schedule it
  // was costed with, "schedule" in the JSON form.
  std::optional<PlanSchedule> schedule;

  const Sharding& of(ir::ValueId v) const { return shardings.at(static_cast<size_t>(v)); }
};

// Every value replicated on `mesh`.
Plan replicated_plan(const ir::Graph& g, const Mesh& mesh);

// The sharding's local shape of value `v`; throws spmd::Error when it does not divide.
ir::Shape local_shape(const ir::Graph& g, const Plan& plan, ir::ValueId v);

nlohmann::ordered_json to_json(const Plan& plan, const ir::Graph& g);
// Reads a plan for `g`; a plan for another model or graph, an unknown axis or a sharding that
// does not fit its value is an spmd::Error saying which.
Plan plan_from_json(const nlohmann::ordered_json& j, const ir::Graph& g);
Plan read_plan(const std::string& path, const ir::Graph& g);
// Writes through a temporary file renamed into place, so a reader never sees half a plan.
void write_plan(const std::string& path, const Plan& plan, const ir::Graph& g);

}  // namespace spmd::partitioner
