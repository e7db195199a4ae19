// The cost model of a per-device program: each op's time on the device model, and each
// collective's time on the topology. Automap (Schaarschmidt et al. 2021) and TOAST (Alabed
// et al.) rank partitionings with such a model instead of running them.
#pragma once

#include <map>
#include <optional>
#include <tuple>

#include "collectives/primitives.h"
#include "ir/graph.h"
#include "launcher/topology.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "partitioner/mesh.h"
#include "partitioner/reuse_distance.h"

namespace spmd::partitioner {

// The floating-point operations of node `v` of a (per-device) program, read from its op's
// sharding rule in the registry: the op visits every point of its factors' iteration space
// (matmul [i,k]x[k,j]: i*j*k points), one multiply-add (2 FLOP) per point where a factor is
// contracted, one operation per point otherwise; a lookup (ir::OpTraits::lookup: gather,
// scatter_add) visits the rows it moves, not the table's. 0 for sources, views and
// collectives.
double op_flops(const ir::Graph& g, ir::ValueId v);

// The bytes node `v` reads and writes: its operands and its result. 0 where op_flops is.
double op_bytes(const ir::Graph& g, ir::ValueId v);

// `batch` independent products [m,k] x [k,n].
struct GemmShape {
  double batch = 1, m = 1, n = 1, k = 1;
  bool operator==(const GemmShape&) const = default;
};

// The GEMM node `v` performs, read from its op's sharding rule: for an op of two operands
// with factors contracted between them (a matmul, batched or with a broadcast operand), k
// is those factors, the batch the factors of both operands, m those of the first operand
// only, n those of the second only. None for any other op, and for a batch of dot products
// (m = n = 1). Remembered as op_flops is.
std::optional<GemmShape> gemm_shape(const ir::Graph& g, ir::ValueId v);

// Roofline time: the device's fixed cost per kernel + max(flops / FLOP/s, bytes / memory
// bandwidth), the FLOP/s the measured one for the problem where the device model has it (a
// GEMM's shape; another op's own; else its size), else the peak.
double op_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device);

// The same as a step runs it: each operand read at the memory rate of the data the step
// touched since it last touched that operand (reuse_distance.h) where that is more than the
// op's own bytes (a tensor made long ago comes from beyond the caches), on a device with a
// measured rate curve (DeviceModel::bytes_by_size); op_seconds without one. Plus, where the
// device has a peer_rewrite_Bps, the result's bytes peers read since they were last
// written at that rate (the op's own, where measured).
double op_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device, const ReuseDistances& reuse);

// Whether the roofline's compute term is the larger for node `v` on `device` (a matmul of
// any size, say), rather than its memory term (an elementwise op).
bool compute_bound(const ir::Graph& g, ir::ValueId v, const DeviceModel& device);

// Each collective of a program costed as the schedules collectives/ synthesizes for the
// devices of its mesh axis (as placement.h does), remembered by (step kind, axis, bytes), so
// that a search costing many programs synthesizes each schedule once.
class CollectiveCosts {
 public:
  // Throws spmd::Error when the mesh and topology have different device counts. The
  // topology is referred to, not copied: it must outlive the costs, so a temporary is refused.
  CollectiveCosts(const Mesh& mesh, const launcher::Topology& topology);
  CollectiveCosts(const Mesh& mesh, launcher::Topology&& topology) = delete;
  double seconds(const CollectiveRecord& record);
  // The same for a bucket's collective the runtime runs over its members where they lie
  // (runs_in_pieces): by the algorithm chosen for a buffer in pieces
  // (collectives::best_schedule_over_pieces, as Redistributor::run_pieces chooses).
  double seconds_over_pieces(const CollectiveRecord& record);
  // Whether the collective moves data between devices: not when the layouts differ only in
  // mesh axes of one device (the runtime copies it in place). O(axes named).
  bool across_devices(const CollectiveRecord& record) const;
  // Whether the runtime runs a bucket's collective `record` over its members where they lie
  // (Redistributor::run_pieces: one all-gather or reduce-scatter along one axis, by an
  // algorithm chosen for pieces for which collectives::packs_pieces is false) rather than
  // packed. O(axes).
  bool runs_in_pieces(const CollectiveRecord& record);

 private:
  struct Step {
    double seconds = 0;
    collectives::Algorithm algorithm = collectives::Algorithm::ring;  // as Redistributor::choose
  };
  const Step& step(int kind, int axis, double bytes, bool over_pieces = false);
  double step_seconds(int kind, int axis, double bytes) { return step(kind, axis, bytes).seconds; }
  Mesh mesh_;
  const launcher::Topology& topology_;
  std::map<std::tuple<int, int, double, bool>, Step> cache_;
};

}  // namespace spmd::partitioner
