// Hierarchical schedules: a collective over ranks placed on a Topology, written as a list of
// steps, each one primitive run by groups of ranks that span a segment of the topology's
// levels. E.g. all-reduce over 4 nodes x 16 GPUs, nested:
//   1. reduce-scatter (ring) inside each node        16 ranks, the whole buffer
//   2. all-reduce (halving-doubling) across nodes    4 ranks, a 1/16 shard, 16 groups at once
//   3. all-gather (ring) inside each node            16 ranks, the whole buffer
// (Xie et al., "Synthesizing Optimal Parallelism Placement and Reduction Strategies on
// Hierarchical Systems for Deep Learning", MLSys 2022: the P^2 reduction strategies.)
#pragma once

#include <string>
#include <vector>

#include "collectives/primitives.h"

namespace spmd::launcher {
class Topology;
}

namespace spmd::collectives {

enum class Primitive { all_reduce, reduce_scatter, all_gather, broadcast, reduce, all_to_all };
std::string to_string(Primitive p);
Primitive primitive_from_string(const std::string& name);  // "allreduce" or "all_reduce"; throws

struct Step {
  Primitive primitive = Primitive::all_reduce;
  Algorithm algorithm = Algorithm::ring;
  // The step's groups span the topology levels outer_level..inner_level (indexes into
  // Topology::levels(), both among the levels the collective spans): ranks in one group
  // share their group at outer_level and their place below inner_level.
  int outer_level = 0, inner_level = 0;
  int group_size = 1;     // ranks per group
  int concurrent = 1;     // groups whose transfers share the outer level's link at once
  double bytes = 0;       // the buffer each rank brings to the step
  double predicted_s = 0; // from the alpha-beta cost of the algorithm on that link
};

struct Schedule {
  Primitive collective = Primitive::all_reduce;
  std::vector<Step> steps;
  double predicted_s = 0;  // the sum of the steps'
  std::string name;        // short label: "flat ring", "nested rs/ag ring + ar halving-doubling"
};

// A step by step explanation: primitive, algorithm, levels, group size, bytes, time.
std::string describe(const Schedule& s, const launcher::Topology& topology);

// The runs of levels a schedule's steps span, outermost first: "cluster | node..package";
// "-" for a schedule without steps.
std::string level_segments(const Schedule& s, const launcher::Topology& topology);

}  // namespace spmd::collectives
