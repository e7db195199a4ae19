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
void chunks_to_front(std::span<const float> in, Cut c, std::span<float> out) {
  for (int64_t o = 0; o < c.outer; ++o)
    for (int64_t k = 0; k < c.k; ++k)
      std::copy_n(in.begin() + (o * c.k + k) * c.inner, c.inner, out.begin() + (k * c.outer + o) * c.inner);
}

// [k, outer, inner] -> [outer, k, inner]
void chunks_from_front(std::span<const float> in, Cut c, std::span<float> out) {
  for (int64_t k = 0; k < c.k; ++k)
    for (int64_t o = 0; o < c.outer; ++o)
      std::copy_n(in.begin() + (k * c.outer + o) * c.inner, c.inner, out.begin() + (o * c.k + k) * c.inner);
}

bool overlaps(std::span<const float> a, std::span<const float> b) {
  return !a.empty() && !b.empty() && a.data() < b.data() + b.size() && b.data() < a.data() + a.size();
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

Algorithm Redistributor::choose(int axis, const std::string& primitive, double bytes, bool over_pieces) {
  Axis& a = along(axis);
  auto key = std::make_pair(over_pieces ? primitive + " over pieces" : primitive, bytes);
  if (auto it = a.algorithms.find(key); it != a.algorithms.end()) return it->second;
  Algorithm best = Algorithm::ring;
  if (topology_) {
    const CollectiveRequest request{primitive_from_string(primitive), a.devices, bytes};
    Schedule s = over_pieces ? best_schedule_over_pieces(*topology_, request) : best_schedule(*topology_, request);
    if (s.steps.size() == 1) best = s.steps[0].algorithm;
  } else {
    double best_s = -1;
    for (Algorithm algo : algorithms_of(primitive)) {
      if (algo == Algorithm::native || algo == Algorithm::shared_memory) continue;  // unmeasured: no figures
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
  const std::vector<RedistributionStep> steps = plan_redistribution(global, mesh_, from, to);
  std::span<const float> cur = in;
  for (size_t i = 0; i < steps.size(); ++i) {
    const RedistributionStep& s = steps[i];
    const bool last = i + 1 == steps.size();
    const int64_t k = mesh_[s.axis];
    const double bytes = 4.0 * static_cast<double>(cur.size());
    switch (s.kind) {
      case Kind::reduce_scatter: {
        // Summed in place: the chunks, in order (as they lie when nothing is outside them).
        const Cut c = cut(shape, s.dim, k);
        std::span<float> front;
        if (c.outer > 1) {
          front = buffer(cur.size(), out, false, {cur});
          chunks_to_front(cur, c, front);
        } else {
          front = writable(cur);
        }
        std::span<float> mine = buffer(cur.size() / static_cast<size_t>(k), out, last, {front});
        reduce_scatter(*along(s.axis).comm, front, mine, ReduceOp::sum, choose(s.axis, "reduce_scatter", bytes));
        cur = mine;
        shape[s.dim] /= k;
        break;
      }
      case Kind::all_reduce: {
        std::span<float> sum = owned(cur) ? writable(cur) : buffer(cur.size(), out, last, {cur});
        if (sum.data() != cur.data()) std::copy(cur.begin(), cur.end(), sum.begin());
        all_reduce(s.axis, sum);
        cur = sum;
        break;
      }
      case Kind::all_to_all: {
        std::span<const float> send = cur;
        if (const Cut c = cut(shape, s.to_dim, k); c.outer > 1) {
          std::span<float> moved = buffer(cur.size(), out, false, {cur});
          chunks_to_front(cur, c, moved);
          send = moved;
        }
        shape[s.to_dim] /= k;
        shape[s.dim] *= k;
        const Cut back = cut(shape, s.dim, k);
        std::span<float> received = buffer(cur.size(), out, last && back.outer == 1, {cur, send});
        all_to_all(*along(s.axis).comm, send, received, choose(s.axis, "all_to_all", bytes));
        cur = received;
        if (back.outer > 1) {
          std::span<float> ordered = buffer(cur.size(), out, last, {cur});
          chunks_from_front(cur, back, ordered);
          cur = ordered;
        }
        break;
      }
      case Kind::all_gather: {
        shape[s.dim] *= k;
        const Cut c = cut(shape, s.dim, k);
        std::span<float> gathered = buffer(cur.size() * static_cast<size_t>(k), out, last && c.outer == 1, {cur});
        all_gather(*along(s.axis).comm, cur, gathered, choose(s.axis, "all_gather", bytes * static_cast<double>(k)));
        cur = gathered;
        if (c.outer > 1) {
          std::span<float> ordered = buffer(cur.size(), out, last, {cur});
          chunks_from_front(cur, c, ordered);
          cur = ordered;
        }
        break;
      }
      case Kind::slice: {
        const Cut c = cut(shape, s.dim, k);
        const int64_t at = coords_[s.axis];
        if (c.outer == 1) {  // this device's chunk is one run of the tensor: a view
          cur = cur.subspan(static_cast<size_t>(at * c.inner), static_cast<size_t>(c.inner));
        } else {
          std::span<float> mine = buffer(static_cast<size_t>(c.outer * c.inner), out, last, {cur});
          for (int64_t o = 0; o < c.outer; ++o)
            std::copy_n(cur.begin() + (o * c.k + at) * c.inner, c.inner, mine.begin() + o * c.inner);
          cur = mine;
        }
        shape[s.dim] /= k;
        break;
      }
      case Kind::make_partial:
        if (coords_[s.axis] != 0) {
          std::span<float> zeros = buffer(cur.size(), out, last, {cur});
          std::fill(zeros.begin(), zeros.end(), 0.0f);
          cur = zeros;
        }
        break;
    }
  }
  if (cur.data() != out.data()) std::copy(cur.begin(), cur.end(), out.begin());
}

void Redistributor::run_consuming(const std::vector<int64_t>& global, const Layout& from, const Layout& to,
                                  std::span<float> in, std::span<float> out) {
  consumable_ = in;
  try {
    run(global, from, to, in, out);
  } catch (...) {
    consumable_ = {};
    throw;
  }
  consumable_ = {};
}

bool Redistributor::run_pieces(const std::vector<int64_t>& global, const Layout& from, const Layout& to,
                               std::span<const Pieces> in, std::span<const Pieces> out) {
  const std::optional<RedistributionStep> step = single_gather_or_scatter(global, mesh_, from, to);
  if (!step) return false;
  const RedistributionStep& s = *step;
  const size_t k = static_cast<size_t>(mesh_[s.axis]);
  const double bytes = 4.0 * static_cast<double>(global[0]);
  if (s.kind == Kind::all_gather && in.size() == 1 && out.size() == k) {
    all_gather_pieces(*along(s.axis).comm, in[0], out, choose(s.axis, "all_gather", bytes, /*over_pieces=*/true));
    return true;
  }
  if (s.kind == Kind::reduce_scatter && in.size() == k && out.size() == 1) {
    reduce_scatter_pieces(*along(s.axis).comm, in, out[0], ReduceOp::sum,
                          choose(s.axis, "reduce_scatter", bytes, /*over_pieces=*/true));
    return true;
  }
  return false;
}

std::span<float> Redistributor::buffer(size_t n, std::span<float> out, bool last,
                                       std::initializer_list<std::span<const float>> still_read) {
  auto free_of_reads = [&](std::span<const float> b) {
    for (std::span<const float> r : still_read) {
      if (overlaps(b, r)) return false;
    }
    return true;
  };
  if (last && out.size() == n && free_of_reads(out)) return out;
  for (Scratch& s : scratch_) {
    if (!free_of_reads(s.span())) continue;
    if (s.size < n) {  // what it held is not read: grown without a copy
      s.data = host_floats(n, HugePages::rounded);
      s.size = n;
    }
    return {s.data.get(), n};
  }
  throw InternalError("redistribute: every scratch buffer is still read");
}

bool Redistributor::owned(std::span<const float> span) const {
  for (const Scratch& s : scratch_) {
    if (overlaps(span, s.span())) return true;
  }
  return overlaps(span, consumable_);
}

std::span<float> Redistributor::writable(std::span<const float> span) {
  for (std::span<float> s : {scratch_[0].span(), scratch_[1].span(), scratch_[2].span(), consumable_}) {
    if (overlaps(span, s)) return {s.data() + (span.data() - s.data()), span.size()};
  }
  std::span<float> copy = buffer(span.size(), {}, false, {span});
  std::copy(span.begin(), span.end(), copy.begin());
  return copy;
}

void redistribute(Communicator& world, const std::vector<int64_t>& global, const std::vector<int>& mesh,
                  const Layout& from, const Layout& to, std::span<const float> in, std::span<float> out) {
  Redistributor(world, mesh).run(global, from, to, in, out);
}

}  // namespace spmd::collectives
