// Executes a redistribution plan on this rank's shard. Each collective runs along one mesh
// axis; a split dimension's blocks are moved to the front ([outer, K, inner] ->
// [K, outer, inner]) so that the primitive's contiguous blocks are the dimension's chunks.
#include <algorithm>
#include <map>
#include <memory>

#include "collectives/cost.h"
#include "collectives/primitives.h"
#include "collectives/redistribute.h"
#include "collectives/run_schedule.h"
#include "collectives/synthesize.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

using Kind = RedistributionStep::Kind;

// A row-major tensor viewed as [outer, k, inner] around dimension `dim` cut into k chunks.
struct Cut {
  int64_t outer = 1, k = 1, inner = 1;
};

Cut cut(const std::vector<int64_t>& shape, int dim, int64_t k) {
  Cut c{1, k, shape[dim] / k};
  for (int i = 0; i < dim; ++i) c.outer *= shape[i];
  for (size_t i = static_cast<size_t>(dim) + 1; i < shape.size(); ++i) c.inner *= shape[i];
  return c;
}

// [outer, k, inner] -> [k, outer, inner]
std::vector<float> chunks_to_front(std::span<const float> in, Cut c) {
  std::vector<float> out(in.size());
  for (int64_t o = 0; o < c.outer; ++o)
    for (int64_t k = 0; k < c.k; ++k)
      std::copy_n(in.begin() + (o * c.k + k) * c.inner, c.inner, out.begin() + (k * c.outer + o) * c.inner);
  return out;
}

// [k, outer, inner] -> [outer, k, inner]
std::vector<float> chunks_from_front(std::span<const float> in, Cut c) {
  std::vector<float> out(in.size());
  for (int64_t k = 0; k < c.k; ++k)
    for (int64_t o = 0; o < c.outer; ++o)
      std::copy_n(in.begin() + (k * c.outer + o) * c.inner, c.inner, out.begin() + (o * c.k + k) * c.inner);
  return out;
}

}  // namespace

struct Redistributor::Axis {
  std::unique_ptr<Communicator> comm;
  std::vector<int> devices;                      // world ranks along the axis, by coordinate
  std::unique_ptr<ScheduleRunner> runner;        // with a topology
  std::map<std::pair<std::string, double>, Schedule> schedules;
  std::map<std::pair<std::string, double>, Algorithm> algorithms;
};

Redistributor::Redistributor(Communicator& world, std::vector<int> mesh, const launcher::Topology* topology)
    : world_(world), mesh_(std::move(mesh)), topology_(topology) {
  int devices = 1;
  for (int s : mesh_) devices *= s;
  if (devices != world.size()) {
    throw Error("a mesh of " + std::to_string(devices) + " devices cannot run on " + std::to_string(world.size()) + " ranks");
  }
  if (topology_ && topology_->num_devices() != world.size()) {
    throw Error("the topology has " + std::to_string(topology_->num_devices()) + " devices, the job " +
                std::to_string(world.size()) + " ranks");
  }
  coords_ = mesh_coords(world.rank(), mesh_);
  axes_.resize(mesh_.size());
}

Redistributor::~Redistributor() = default;

Redistributor::Axis& Redistributor::along(int axis) {
  if (axes_[axis]) return *axes_[axis];
  auto a = std::make_unique<Axis>();
  a->devices = axis_ranks(mesh_, axis, world_.rank());
  a->comm = world_.split(a->devices.front(), coords_[axis]);
  if (topology_) a->runner = std::make_unique<ScheduleRunner>(*a->comm, *topology_, a->devices);
  axes_[axis] = std::move(a);
  return *axes_[axis];
}

Algorithm Redistributor::choose(int axis, const std::string& primitive, double bytes) {
  Axis& a = along(axis);
  auto key = std::make_pair(primitive, bytes);
  if (auto it = a.algorithms.find(key); it != a.algorithms.end()) return it->second;
  Algorithm best = Algorithm::ring;
  if (topology_) {
    Schedule s = best_schedule(*topology_, {primitive_from_string(primitive), a.devices, bytes});
    if (s.steps.size() == 1) best = s.steps[0].algorithm;
  } else {
    double best_s = -1;
    for (Algorithm algo : algorithms_of(primitive)) {
      if (algo == Algorithm::native) continue;
      double t = predicted_seconds(primitive, algo, mesh_[axis], bytes, LinkCost{});
      if (best_s < 0 || t < best_s) best_s = t, best = algo;
    }
  }
  return a.algorithms[key] = best;
}

void Redistributor::all_reduce(int axis, std::span<float> data) {
  Axis& a = along(axis);
  double bytes = 4.0 * static_cast<double>(data.size());
  if (!topology_) {
    collectives::all_reduce(*a.comm, data, ReduceOp::sum, choose(axis, "all_reduce", bytes));
    return;
  }
  auto key = std::make_pair(std::string("all_reduce"), bytes);
  auto it = a.schedules.find(key);
  if (it == a.schedules.end()) {
    it = a.schedules.emplace(key, best_schedule(*topology_, {Primitive::all_reduce, a.devices, bytes})).first;
  }
  if (it->second.steps.empty()) return;  // one device: nothing to sum
  a.runner->all_reduce(it->second, data, ReduceOp::sum);
}

void Redistributor::run(const std::vector<int64_t>& global, const Layout& from, const Layout& to,
                        std::span<const float> in, std::span<float> out) {
  std::vector<int64_t> shape = local_shape(global, mesh_, from);
  auto size_of = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return static_cast<size_t>(n);
  };
  if (in.size() != size_of(shape) || out.size() != size_of(local_shape(global, mesh_, to))) {
    throw Error("redistribute: shard sizes " + std::to_string(in.size()) + " -> " + std::to_string(out.size()) +
                " do not match the layouts " + to_string(from) + " -> " + to_string(to));
  }
  std::vector<float> cur(in.begin(), in.end());
  for (const RedistributionStep& s : plan_redistribution(global, mesh_, from, to)) {
    const int64_t k = mesh_[s.axis];
    const double bytes = 4.0 * static_cast<double>(cur.size());
    switch (s.kind) {
      case Kind::reduce_scatter: {
        std::vector<float> front = chunks_to_front(cur, cut(shape, s.dim, k));
        cur.assign(front.size() / k, 0.0f);
        reduce_scatter(*along(s.axis).comm, front, cur, ReduceOp::sum, choose(s.axis, "reduce_scatter", bytes));
        shape[s.dim] /= k;
        break;
      }
      case Kind::all_reduce:
        all_reduce(s.axis, cur);
        break;
      case Kind::all_to_all: {
        std::vector<float> send = chunks_to_front(cur, cut(shape, s.to_dim, k));
        all_to_all(*along(s.axis).comm, send, cur, choose(s.axis, "all_to_all", bytes));
        shape[s.to_dim] /= k;
        shape[s.dim] *= k;
        cur = chunks_from_front(cur, cut(shape, s.dim, k));
        break;
      }
      case Kind::all_gather: {
        std::vector<float> gathered(cur.size() * k);
        all_gather(*along(s.axis).comm, cur, gathered, choose(s.axis, "all_gather", bytes * k));
        shape[s.dim] *= k;
        cur = chunks_from_front(gathered, cut(shape, s.dim, k));
        break;
      }
      case Kind::slice: {
        Cut c = cut(shape, s.dim, k);
        std::vector<float> mine(static_cast<size_t>(c.outer * c.inner));
        int64_t at = coords_[s.axis];
        for (int64_t o = 0; o < c.outer; ++o)
          std::copy_n(cur.begin() + (o * c.k + at) * c.inner, c.inner, mine.begin() + o * c.inner);
        cur = std::move(mine);
        shape[s.dim] /= k;
        break;
      }
      case Kind::make_partial:
        if (coords_[s.axis] != 0) std::fill(cur.begin(), cur.end(), 0.0f);
        break;
    }
  }
  std::copy(cur.begin(), cur.end(), out.begin());
}

void redistribute(Communicator& world, const std::vector<int64_t>& global, const std::vector<int>& mesh,
                  const Layout& from, const Layout& to, std::span<const float> in, std::span<float> out) {
  Redistributor(world, mesh).run(global, from, to, in, out);
}

}  // namespace spmd::collectives
