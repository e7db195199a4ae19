#include "runtime/reshard.h"

#include <algorithm>
#include <map>
#include <optional>

#include "collectives/redistribute.h"
#include "common/error.h"
#include "ir/ops.h"
#include "runtime/checkpoint_blocks.h"

namespace spmd::runtime {
namespace {

// A box of a tensor: its first index and extent in each dimension.
struct Box {
  std::vector<int64_t> origin, shape;
};

Box block_of(const Held& h, const std::vector<int>& mesh, int rank) {
  return {block_origin(h.global, mesh, h.layout, rank), collectives::local_shape(h.global, mesh, h.layout)};
}

std::optional<Box> overlap(const Box& a, const Box& b) {
  Box o{std::vector<int64_t>(a.origin.size()), std::vector<int64_t>(a.origin.size())};
  for (size_t d = 0; d < a.origin.size(); ++d) {
    o.origin[d] = std::max(a.origin[d], b.origin[d]);
    o.shape[d] = std::min(a.origin[d] + a.shape[d], b.origin[d] + b.shape[d]) - o.origin[d];
    if (o.shape[d] <= 0) return std::nullopt;
  }
  return o;
}

// Copies the elements of `box` from `src` (a row-major block laid at `src_at`) into `dst`
// (laid at `dst_at`), one run along the last dimension at a time.
void copy_box(const float* src, const Box& src_at, float* dst, const Box& dst_at, const Box& box) {
  const size_t dims = box.shape.size();
  const int64_t run = dims ? box.shape.back() : 1;
  const int64_t runs = dims ? ir::numel(box.shape) / run : 1;
  for (int64_t r = 0; r < runs; ++r) {
    int64_t rest = r, at_src = 0, at_dst = 0, src_stride = 1, dst_stride = 1;
    for (int d = static_cast<int>(dims) - 1; d >= 0; --d) {
      int64_t i = box.origin[d];
      if (d != static_cast<int>(dims) - 1) {
        i += rest % box.shape[d];
        rest /= box.shape[d];
      }
      at_src += (i - src_at.origin[d]) * src_stride;
      at_dst += (i - dst_at.origin[d]) * dst_stride;
      src_stride *= src_at.shape[d];
      dst_stride *= dst_at.shape[d];
    }
    std::copy_n(src + at_src, run, dst + at_dst);
  }
}

// Pairwise rounds: in round k every rank sends to rank + k and receives from rank - k, so
// each pair meets once and no rank waits on a cycle. Sizes need no message: both sides
// compute the same boxes.
void exchange_blocks(const Held& old, const std::vector<int>& old_mesh, const Held& now,
                     const std::vector<int>& new_mesh, collectives::Communicator& world) {
  const int ranks = world.size(), me = world.rank();
  const Box mine_old = block_of(old, old_mesh, me), mine_new = block_of(now, new_mesh, me);
  const bool writer = writes_block(old.layout, old_mesh, me);
  int64_t filled = 0;
  std::vector<float> out, in;
  for (int k = 0; k < ranks; ++k) {
    const int dest = (me + k) % ranks, source = (me - k + ranks) % ranks;
    std::optional<Box> send = writer ? overlap(mine_old, block_of(now, new_mesh, dest)) : std::nullopt;
    std::optional<Box> recv = writes_block(old.layout, old_mesh, source)
                                  ? overlap(block_of(old, old_mesh, source), mine_new)
                                  : std::nullopt;
    if (k == 0) {
      if (send) copy_box(old.data.f32(), mine_old, now.data.f32(), mine_new, *send);
      filled += send ? ir::numel(send->shape) : 0;
      continue;
    }
    if (send) {
      out.resize(ir::numel(send->shape));
      copy_box(old.data.f32(), mine_old, out.data(), *send, *send);
    }
    if (recv) in.resize(ir::numel(recv->shape));
    if (send && recv) {
      world.sendrecv(out, dest, in, source);
    } else if (send) {
      world.send(out, dest);
    } else if (recv) {
      world.recv(in, source);
    }
    if (recv) {
      copy_box(in.data(), *recv, now.data.f32(), mine_new, *recv);
      filled += ir::numel(recv->shape);
    }
  }
  if (filled != now.data.numel()) {
    throw Error("moving '" + now.node->name + "' to the new plan filled " + std::to_string(filled) + " of its " +
                std::to_string(now.data.numel()) + " elements on rank " + std::to_string(me));
  }
}

const Held& counterpart(const std::map<std::string, const Held*>& old, const Held& now) {
  auto it = old.find(now.node->name);
  if (it == old.end() || it->second->global != now.global || it->second->node->op != now.node->op) {
    throw Error("the new plan's program holds " + now.node->op + " '" + now.node->name +
                "', which the running program does not hold with that shape");
  }
  return *it->second;
}

}  // namespace

void reshard(const Executor& from, Executor& to, collectives::Communicator* world,
             const launcher::Topology* topology) {
  const std::vector<int> old_mesh = mesh_sizes(from.graph()), new_mesh = mesh_sizes(to.graph());
  const std::vector<Held> old = held_values(from.graph(), &from), now = held_values(to.graph(), &to);
  if (old.size() != now.size()) {
    throw Error("the new plan's program holds " + std::to_string(now.size()) + " params and states, the running one " +
                std::to_string(old.size()));
  }
  std::map<std::string, const Held*> by_name;
  for (const Held& h : old) by_name.emplace(h.node->name, &h);
  const bool alone = !world || world->size() == 1;
  std::optional<collectives::Redistributor> along_axes;
  if (!alone && old_mesh == new_mesh) along_axes.emplace(*world, new_mesh, topology);
  for (const Held& h : now) {
    const Held& was = counterpart(by_name, h);
    if (alone) {
      std::copy_n(was.data.f32(), h.data.numel(), h.data.f32());
    } else if (along_axes) {
      along_axes->run(h.global, was.layout, h.layout, {was.data.f32(), static_cast<size_t>(was.data.numel())},
                      {h.data.f32(), static_cast<size_t>(h.data.numel())});
    } else {
      exchange_blocks(was, old_mesh, h, new_mesh, *world);
    }
    to.commit_host_value(h.id);
  }
}

}  // namespace spmd::runtime
