#include "partitioner/mesh.h"

#include <charconv>

#include "common/error.h"
#include "partitioner/json_fields.h"

namespace spmd::partitioner {

int Mesh::size() const {
  int n = 1;
  for (int s : sizes) n *= s;
  return n;
}

int Mesh::axis(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  throw Error("mesh " + to_string() + " has no axis '" + name + "'");
}

std::string Mesh::to_string() const {
  std::string s = "{";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i] + ": " + std::to_string(sizes[i]);
  return s + "}";
}

Mesh parse_mesh(const std::string& text) {
  Mesh m;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, end - start);
    size_t eq = item.find('=');
    int size = 0;
    auto [p, ec] = std::from_chars(item.data() + std::min(eq + 1, item.size()), item.data() + item.size(), size);
    if (eq == std::string::npos || eq == 0 || ec != std::errc() || p != item.data() + item.size() || size < 1) {
      throw Error("malformed mesh axis '" + item + "' in '" + text + "' (expected name=size, as data=4)");
    }
    m.names.push_back(item.substr(0, eq));
    m.sizes.push_back(size);
    start = end + 1;
  }
  if (m.names.empty()) throw Error("empty mesh '" + text + "'");
  return m;
}

nlohmann::ordered_json to_json(const Mesh& m) {
  nlohmann::ordered_json axes = nlohmann::ordered_json::array();
  for (size_t i = 0; i < m.names.size(); ++i) axes.push_back({{"name", m.names[i]}, {"size", m.sizes[i]}});
  return axes;
}

namespace {

// Far beyond any machine, yet small enough that the mesh's device count stays an int.
constexpr int64_t kMostDevices = int64_t{1} << 24;

// An axis size as written: a whole number from 1 up, read without wrapping or truncating.
int axis_size(const nlohmann::ordered_json& size, const std::string& name) {
  return static_cast<int>(whole_number<int64_t>(size, "the size of mesh axis '" + name + "'", 1, kMostDevices));
}

}  // namespace

Mesh mesh_from_json(const nlohmann::ordered_json& j) {
  Mesh m;
  if (j.is_object()) {
    for (const auto& [name, size] : j.items()) {
      m.names.push_back(name);
      m.sizes.push_back(axis_size(size, name));
    }
  } else if (j.is_array()) {
    for (const auto& axis : j) {
      if (!axis.is_object()) throw Error("a mesh axis is " + axis.dump() + ", not {\"name\": ..., \"size\": ...}");
      m.names.push_back(axis.at("name").get<std::string>());
      m.sizes.push_back(axis_size(axis.at("size"), m.names.back()));
    }
  } else {
    throw Error("a mesh is " + j.dump() + ", not an object of axis sizes or an array of axes");
  }
  if (m.names.empty()) throw Error("a mesh needs at least one axis");
  int64_t devices = 1;
  for (int size : m.sizes) {
    devices *= size;
    if (devices > kMostDevices) throw Error("mesh " + j.dump() + " has more than " + std::to_string(kMostDevices) + " devices");
  }
  return m;
}

}  // namespace spmd::partitioner
