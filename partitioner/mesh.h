// A device mesh: named axes with sizes ({data: 4, model: 2}); its size is the number of
// ranks, rank r sitting at the row-major coordinates of r (the last axis varies fastest, so
// it lands on the innermost level of the topology: `model` inside the node).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spmd::partitioner {

struct Mesh {
  std::vector<std::string> names;
  std::vector<int> sizes;

  int size() const;
  int rank_count() const { return size(); }
  // The index of axis `name`; throws spmd::Error naming the mesh's axes when unknown.
  int axis(const std::string& name) const;
  std::string to_string() const;  // "{data: 2, model: 2}"
  bool operator==(const Mesh&) const = default;
};

// Parses "data=2,model=4"; throws spmd::Error on a malformed text or a size below 1.
Mesh parse_mesh(const std::string& text);
// [{"name": "data", "size": 2}, ...]
nlohmann::ordered_json to_json(const Mesh& m);
// Reads that form or {"data": 2, "model": 2} (files are read order-preserving).
Mesh mesh_from_json(const nlohmann::ordered_json& j);

}  // namespace spmd::partitioner
