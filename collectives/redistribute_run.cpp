// Executes a redistribution plan on this rank's shard. Each collective runs along one mesh
// axis; a split dimension's blocks are moved to the front ([outer, K, inner] ->
// [K, outer, inner]) so that the primitive's contiguous blocks are the dimension's chunks.
#include <algorithm>
#include <map>
#include <memory>

#include "collectives/primitives.h"
#include "collectives/redistribute.h"
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

class AxisCommunicators {
 public:
  AxisCommunicators(Communicator& world, const std::vector<int>& mesh) : world_(world), mesh_(mesh) {
    coords_ = mesh_coords(world.rank(), mesh);
  }
  int coord(int axis) const { return coords_[axis]; }
  // The ranks that differ from this one only along `axis`, ordered by their coordinate.
  Communicator& along(int axis) {
    auto it = comms_.find(axis);
    if (it != comms_.end()) return *it->second;
    int stride = 1;
    for (size_t a = static_cast<size_t>(axis) + 1; a < mesh_.size(); ++a) stride *= mesh_[a];
    int color = world_.rank() - coords_[axis] * stride;
    return *comms_.emplace(axis, world_.split(color, coords_[axis])).first->second;
  }

 private:
  Communicator& world_;
  std::vector<int> mesh_, coords_;
  std::map<int, std::unique_ptr<Communicator>> comms_;
};

}  // namespace

void redistribute(Communicator& world, const std::vector<int64_t>& global, const std::vector<int>& mesh,
                  const Layout& from, const Layout& to, std::span<const float> in, std::span<float> out) {
  int devices = 1;
  for (int s : mesh) devices *= s;
  if (devices != world.size()) {
    throw Error("a mesh of " + std::to_string(devices) + " devices cannot run on " + std::to_string(world.size()) + " ranks");
  }
  std::vector<int64_t> shape = local_shape(global, mesh, from);
  auto size_of = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return static_cast<size_t>(n);
  };
  if (in.size() != size_of(shape) || out.size() != size_of(local_shape(global, mesh, to))) {
    throw Error("redistribute: shard sizes " + std::to_string(in.size()) + " -> " + std::to_string(out.size()) +
                " do not match the layouts " + to_string(from) + " -> " + to_string(to));
  }
  AxisCommunicators axes(world, mesh);
  std::vector<float> cur(in.begin(), in.end());
  for (const RedistributionStep& s : plan_redistribution(global, mesh, from, to)) {
    const int64_t k = mesh[s.axis];
    switch (s.kind) {
      case Kind::reduce_scatter: {
        std::vector<float> front = chunks_to_front(cur, cut(shape, s.dim, k));
        cur.assign(front.size() / k, 0.0f);
        reduce_scatter(axes.along(s.axis), front, cur, ReduceOp::sum, Algorithm::ring);
        shape[s.dim] /= k;
        break;
      }
      case Kind::all_reduce:
        all_reduce(axes.along(s.axis), cur, ReduceOp::sum, Algorithm::ring);
        break;
      case Kind::all_to_all: {
        std::vector<float> send = chunks_to_front(cur, cut(shape, s.to_dim, k));
        all_to_all(axes.along(s.axis), send, cur, Algorithm::pairwise);
        shape[s.to_dim] /= k;
        shape[s.dim] *= k;
        cur = chunks_from_front(cur, cut(shape, s.dim, k));
        break;
      }
      case Kind::all_gather: {
        std::vector<float> gathered(cur.size() * k);
        all_gather(axes.along(s.axis), cur, gathered, Algorithm::ring);
        shape[s.dim] *= k;
        cur = chunks_from_front(gathered, cut(shape, s.dim, k));
        break;
      }
      case Kind::slice: {
        Cut c = cut(shape, s.dim, k);
        std::vector<float> mine(static_cast<size_t>(c.outer * c.inner));
        int64_t at = axes.coord(s.axis);
        for (int64_t o = 0; o < c.outer; ++o)
          std::copy_n(cur.begin() + (o * c.k + at) * c.inner, c.inner, mine.begin() + o * c.inner);
        cur = std::move(mine);
        shape[s.dim] /= k;
        break;
      }
      case Kind::make_partial:
        if (axes.coord(s.axis) != 0) std::fill(cur.begin(), cur.end(), 0.0f);
        break;
    }
  }
  std::copy(cur.begin(), cur.end(), out.begin());
}

}  // namespace spmd::collectives
