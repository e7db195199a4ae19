#include "runtime/checkpoint_blocks.h"

#include <algorithm>

#include "ir/ops.h"
#include "partitioner/mesh.h"

namespace spmd::runtime {

std::vector<int> mesh_sizes(const ir::Graph& g) {
  return g.meta.has("mesh") ? partitioner::parse_mesh(g.meta.s("mesh")).sizes : std::vector<int>{};
}

std::vector<Held> held_values(const ir::Graph& g, const Executor* ex) {
  const bool partitioned = g.meta.has("mesh");
  std::vector<Held> held;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (ir::op_traits(n.op).source != ir::Source::initialized) continue;
    const bool sharded = partitioned && n.attrs.has("layout");
    Held h{v, &n, sharded ? n.attrs.ints("global") : n.type.shape,
           sharded ? collectives::decode_layout(n.attrs.s("layout"))
                   : collectives::Layout{std::vector<std::vector<int>>(n.type.shape.size()), {}},
           ex ? ex->host_value(v) : kernels::TensorRef{}};
    held.push_back(std::move(h));
  }
  return held;
}

std::vector<int64_t> block_origin(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                  const collectives::Layout& l, int rank) {
  std::vector<int64_t> local = collectives::local_shape(global, mesh, l);
  std::vector<int> coords = collectives::mesh_coords(rank, mesh);
  std::vector<int64_t> origin(global.size());
  for (size_t d = 0; d < global.size(); ++d) {
    int64_t block = 0;
    for (int a : l.dims[d]) block = block * mesh[a] + coords[a];
    origin[d] = block * local[d];
  }
  return origin;
}

bool writes_block(const collectives::Layout& l, const std::vector<int>& mesh, int rank) {
  std::vector<int> coords = collectives::mesh_coords(rank, mesh);
  for (size_t a = 0; a < mesh.size(); ++a) {
    bool splits = false;
    for (const auto& axes : l.dims) splits = splits || std::find(axes.begin(), axes.end(), static_cast<int>(a)) != axes.end();
    if (!splits && coords[a] != 0) return false;
  }
  return true;
}

}  // namespace spmd::runtime
