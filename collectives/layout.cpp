#include "collectives/layout.h"

#include <algorithm>
#include <cstdlib>

#include "common/error.h"

namespace spmd::collectives {

std::string to_string(const Layout& l) {
  std::string s = "[";
  for (size_t d = 0; d < l.dims.size(); ++d) {
    if (d) s += ", ";
    if (l.dims[d].empty()) s += "-";
    for (size_t i = 0; i < l.dims[d].size(); ++i) s += (i ? "." : "") + std::string("a") + std::to_string(l.dims[d][i]);
  }
  s += "]";
  for (int a : l.partial) s += " +a" + std::to_string(a);
  return s;
}

bool moves_between_devices(const Layout& from, const Layout& to, const std::vector<int>& mesh) {
  if (std::all_of(mesh.begin(), mesh.end(), [](int size) { return size == 1; })) return false;
  auto of_one_device = [&](int axis) { return mesh.at(static_cast<size_t>(axis)) == 1; };
  auto across_devices = [&](Layout l) {  // the layout without its axes of one device
    for (std::vector<int>& axes : l.dims) std::erase_if(axes, of_one_device);
    std::erase_if(l.partial, of_one_device);
    return l;
  };
  return across_devices(from) != across_devices(to);
}

std::vector<int64_t> local_shape(const std::vector<int64_t>& global, const std::vector<int>& mesh, const Layout& l) {
  if (l.dims.size() != global.size()) {
    throw Error("layout " + to_string(l) + " has " + std::to_string(l.dims.size()) + " dimensions, the tensor " +
                std::to_string(global.size()));
  }
  std::vector<int> seen = l.partial;
  std::vector<int64_t> local = global;
  for (size_t d = 0; d < global.size(); ++d) {
    for (int a : l.dims[d]) {
      if (a < 0 || a >= static_cast<int>(mesh.size())) throw Error("layout " + to_string(l) + " names a mesh axis the mesh lacks");
      if (local[d] % mesh[a] != 0) {
        throw Error("dimension " + std::to_string(d) + " of size " + std::to_string(global[d]) +
                    " does not split evenly in layout " + to_string(l));
      }
      local[d] /= mesh[a];
      seen.push_back(a);
    }
  }
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
    throw Error("layout " + to_string(l) + " uses a mesh axis twice");
  }
  return local;
}

std::string encode(const Layout& l) {
  std::string s;
  for (size_t d = 0; d < l.dims.size(); ++d) {
    if (d) s += ',';
    if (l.dims[d].empty()) s += '-';
    for (size_t i = 0; i < l.dims[d].size(); ++i) s += (i ? "." : "") + std::to_string(l.dims[d][i]);
  }
  if (!l.partial.empty()) {
    s += ';';
    for (size_t i = 0; i < l.partial.size(); ++i) s += (i ? "." : "") + std::to_string(l.partial[i]);
  }
  return s;
}

namespace {

std::vector<int> axes_of(const std::string& text, const std::string& whole) {
  std::vector<int> axes;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.find('.', start), text.size());
    char* stop = nullptr;
    std::string item = text.substr(start, end - start);
    long a = std::strtol(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || a < 0) throw Error("malformed layout '" + whole + "'");
    axes.push_back(static_cast<int>(a));
    start = end + 1;
  }
  return axes;
}

}  // namespace

Layout decode_layout(const std::string& text) {
  Layout l;
  size_t semi = text.find(';');
  std::string dims = text.substr(0, semi);
  if (semi != std::string::npos) l.partial = axes_of(text.substr(semi + 1), text);
  size_t start = 0;
  bool scalar = dims.empty();
  while (!scalar && start <= dims.size()) {
    size_t end = std::min(dims.find(',', start), dims.size());
    std::string item = dims.substr(start, end - start);
    l.dims.push_back(item == "-" ? std::vector<int>{} : axes_of(item, text));
    start = end + 1;
  }
  return l;
}

std::vector<int> mesh_coords(int rank, const std::vector<int>& mesh) {
  std::vector<int> c(mesh.size());
  for (int a = static_cast<int>(mesh.size()) - 1; a >= 0; --a) {
    c[a] = rank % mesh[a];
    rank /= mesh[a];
  }
  return c;
}

std::vector<int> axis_ranks(const std::vector<int>& mesh, int axis, int rank) {
  std::vector<int> coords = mesh_coords(rank, mesh);
  int stride = 1;
  for (size_t a = static_cast<size_t>(axis) + 1; a < mesh.size(); ++a) stride *= mesh[a];
  int first = rank - coords[axis] * stride;
  std::vector<int> ranks;
  for (int c = 0; c < mesh[axis]; ++c) ranks.push_back(first + c * stride);
  return ranks;
}

void extract_shard(const std::vector<int64_t>& shape, const std::vector<int>& mesh, const Layout& l, int rank,
                   std::span<const float> global, std::span<float> shard) {
  std::vector<int64_t> local = local_shape(shape, mesh, l);
  std::vector<int> coords = mesh_coords(rank, mesh);
  std::vector<int64_t> origin(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t block = 0;
    for (int a : l.dims[d]) block = block * mesh[a] + coords[a];
    origin[d] = block * local[d];
  }
  // Copy rows of the last dimension: each is contiguous in both tensors.
  int64_t row = local.empty() ? 1 : local.back();
  int64_t rows = static_cast<int64_t>(shard.size()) / std::max<int64_t>(row, 1);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, at = 0, stride = 1;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      int64_t i = d == static_cast<int>(shape.size()) - 1 ? 0 : rest % local[d];
      if (d != static_cast<int>(shape.size()) - 1) rest /= local[d];
      at += (origin[d] + i) * stride;
      stride *= shape[d];
    }
    std::copy_n(global.begin() + at, row, shard.begin() + r * row);
  }
}

}  // namespace spmd::collectives
