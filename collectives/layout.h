// How a tensor lies on a device mesh, and the arithmetic of its shards.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spmd::collectives {

// How a tensor lies on a mesh of shape `mesh` (axis sizes; rank r has the row-major
// coordinates of r): per tensor dimension, the mesh axes it is split over, major first;
// and the axes over which the local values are pending partial sums. Axes in neither are
// replicated.
struct Layout {
  std::vector<std::vector<int>> dims;
  std::vector<int> partial;
  bool operator==(const Layout&) const = default;
};
std::string to_string(const Layout& l);  // "[{0,1}, {}] partial{...}" style: "[a0.a1, -] +a2"

// The local shard's shape; throws spmd::Error when a dimension does not divide evenly or an
// axis is used twice.
std::vector<int64_t> local_shape(const std::vector<int64_t>& global, const std::vector<int>& mesh, const Layout& l);

// Whether redistributing from `from` to `to` on `mesh` moves data between devices: not on a
// mesh of one device, nor where the layouts differ only in axes of one device (an axis of
// size 1 splits nothing and sums one partial). O(axes named).
bool moves_between_devices(const Layout& from, const Layout& to, const std::vector<int>& mesh);

// A compact text form for attributes and files: dims separated by ',', the axes of one dim
// by '.' ('-' for none), the partial axes after ';': "0.1,-;2" is [a0.a1, -] partial over
// a2, "" a replicated scalar.
std::string encode(const Layout& l);
// Parses encode()'s form; throws spmd::Error on anything else.
Layout decode_layout(const std::string& text);

// The coordinates of `rank` on a mesh of shape `mesh` (row-major, first axis major).
std::vector<int> mesh_coords(int rank, const std::vector<int>& mesh);

// The ranks that differ from `rank` only along `axis`, ordered by their coordinate there:
// the group of a collective along that axis.
std::vector<int> axis_ranks(const std::vector<int>& mesh, int axis, int rank);

// Copies the shard of device `rank` out of the whole tensor `global` (row-major, shape
// `shape`) under layout `l`, whose partial axes must be empty. O(shard size).
void extract_shard(const std::vector<int64_t>& shape, const std::vector<int>& mesh, const Layout& l, int rank,
                   std::span<const float> global, std::span<float> shard);

}  // namespace spmd::collectives
