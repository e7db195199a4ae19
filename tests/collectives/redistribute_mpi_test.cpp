// Every pair of layouts of 2-D and 3-D tensors over the mesh that fits the world (2x2 on 4
// ranks, 2x3 on 6, 4x2 on 8, one axis of every rank otherwise), redistributed and checked
// element by element, also from an input the run may work in, and in place where the
// shards are of one size.
#include <gtest/gtest.h>
#include <mpi.h>

#include <functional>

#include "collectives/mpi/mpi_communicator.h"
#include "collectives/redistribute.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Every layout of a rank-`dims` tensor over one or two mesh axes: each axis unused, partial,
// or on one dimension; two axes on one dimension in both orders.
std::vector<Layout> all_layouts(int dims, int axes) {
  std::vector<Layout> out;
  for (int p0 = -2; p0 < dims; ++p0) {
    for (int p1 = axes == 2 ? -2 : -3; p1 < (axes == 2 ? dims : -2); ++p1) {
      for (int order = 0; order < (p0 >= 0 && p0 == p1 ? 2 : 1); ++order) {
        Layout l{std::vector<std::vector<int>>(dims), {}};
        int first = order ? 1 : 0;
        for (int a : {first, 1 - first}) {
          int place = a == 0 ? p0 : p1;
          if (a >= axes) continue;
          if (place == -1) l.partial.push_back(a);
          if (place >= 0) l.dims[place].push_back(a);
        }
        out.push_back(l);
      }
    }
  }
  return out;
}

// This rank's shard of the tensor whose element i is i, under `l`; partial sums are split
// as (x - (P-1)) on the first of P contributors and 1 on every other, exact in f32.
std::vector<float> shard(const std::vector<int64_t>& global, const std::vector<int>& mesh, const Layout& l,
                         const std::vector<int>& coords) {
  std::vector<int64_t> local = local_shape(global, mesh, l);
  int64_t n = 1, contributors = 1;
  for (int64_t d : local) n *= d;
  bool first = true;
  for (int a : l.partial) {
    contributors *= mesh[a];
    first = first && coords[a] == 0;
  }
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, flat = 0, stride = 1;
    for (int d = static_cast<int>(local.size()) - 1; d >= 0; --d) {
      int64_t li = rest % local[d];
      rest /= local[d];
      int64_t block = 0;
      for (int a : l.dims[d]) block = block * mesh[a] + coords[a];
      flat += (block * local[d] + li) * stride;
      stride *= global[d];
    }
    out[static_cast<size_t>(i)] = static_cast<float>(first ? flat - (contributors - 1) : 1);
  }
  return out;
}

// Sums `data` over the partial axes of `l` (MPI's own all-reduce), turning a partial shard
// into the plain one.
void resolve_partial(std::vector<float>& data, const std::vector<int>& mesh, const Layout& l) {
  std::vector<int> c = mesh_coords(world_rank(), mesh);
  for (int a : l.partial) {
    MPI_Comm axis;
    MPI_Comm_split(MPI_COMM_WORLD, axis_ranks(mesh, a, world_rank()).front(), c[a], &axis);
    MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_FLOAT, MPI_SUM, axis);
    MPI_Comm_free(&axis);
  }
}

void check_all_pairs(const std::vector<int64_t>& global, const std::vector<int>& mesh) {
  MpiCommunicator world(MPI_COMM_WORLD);
  // One redistributor for every pair, as the runtime keeps one: its scratch is reused from
  // run to run, at every size and in every role.
  Redistributor shared(world, mesh);
  std::vector<int> coords = mesh_coords(world.rank(), mesh);
  std::vector<Layout> layouts = all_layouts(static_cast<int>(global.size()), static_cast<int>(mesh.size()));
  int checked = 0;
  for (const Layout& from : layouts) {
    std::vector<float> in = shard(global, mesh, from, coords);
    for (const Layout& to : layouts) {
      Layout plain_to{to.dims, {}};
      std::vector<float> out(shard(global, mesh, plain_to, coords).size());
      shared.run(global, from, to, in, out);
      resolve_partial(out, mesh, to);
      std::vector<float> expected = shard(global, mesh, plain_to, coords);
      ASSERT_EQ(out, expected) << to_string(from) << " -> " << to_string(to) << " on rank " << world.rank();
      std::vector<float> lost = in, consumed_out(out.size());  // the input the caller gives up
      shared.run_consuming(global, from, to, lost, consumed_out);
      resolve_partial(consumed_out, mesh, to);
      ASSERT_EQ(consumed_out, expected) << to_string(from) << " -> " << to_string(to) << " consuming on rank " << world.rank();
      if (in.size() == out.size()) {  // the same run given one buffer as both in and out
        std::vector<float> both = in;
        shared.run(global, from, to, both, both);
        resolve_partial(both, mesh, to);
        ASSERT_EQ(both, expected) << to_string(from) << " -> " << to_string(to) << " in place on rank " << world.rank();
        both = in;
        shared.run_consuming(global, from, to, both, both);
        resolve_partial(both, mesh, to);
        ASSERT_EQ(both, expected) << to_string(from) << " -> " << to_string(to) << " consuming in place on rank "
                                  << world.rank();
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(layouts.size() * layouts.size()));
}

std::vector<int> mesh_for_world() {
  switch (world_size()) {
    case 4: return {2, 2};
    case 6: return {2, 3};
    case 8: return {4, 2};
    default: return {world_size()};
  }
}

// Shapes that every product of the mesh's axes divides, not all dimensions alike.
std::vector<int64_t> shape(int rank) {
  bool two_axes = mesh_for_world().size() == 2;
  int64_t p = world_size();
  std::vector<int64_t> s = two_axes ? std::vector<int64_t>{24, 48, 24} : std::vector<int64_t>{2 * p, 3 * p, p};
  s.resize(static_cast<size_t>(rank));
  return s;
}

TEST(Redistribute, EveryPairOf2dLayouts) { check_all_pairs(shape(2), mesh_for_world()); }

TEST(Redistribute, EveryPairOf3dLayouts) { check_all_pairs(shape(3), mesh_for_world()); }

TEST(Redistribute, UnevenShapesAreRejectedOnEveryRank) {
  std::vector<int> mesh = mesh_for_world();
  if (world_size() == 1) GTEST_SKIP() << "one rank divides everything";
  MpiCommunicator world(MPI_COMM_WORLD);
  std::vector<float> in(25), out(25);
  EXPECT_THROW(redistribute(world, {5, 5}, mesh, {{{}, {}}, {}}, {{{0}, {}}, {}}, in, out), Error);
}

}  // namespace
}  // namespace spmd::collectives

