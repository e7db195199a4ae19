// What `spmd plan` prints: the mesh, every parameter's sharding with a picture of which
// device holds which block, the collectives of one step and the planned memory per device.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "partitioner/lower.h"
#include "partitioner/plan.h"
#include "runtime/memory_plan.h"

namespace spmd::tools {

// Rows of text cells printed with each column as wide as its widest cell (a header row
// first); the last column is not padded.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Lines indented by `indent`; `after[i]`, when not empty, is printed below data row i.
  std::string text(const std::string& indent, const std::vector<std::string>& after = {}) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Device ids in a compact form: runs of three or more as "0-3", others comma separated
// ("0,2"); long lists keep their ends ("0,8,16,..,56").
std::string device_list(const std::vector<int>& devices);

// Which devices hold which block of a value's last two dimensions, as
// jax.debug.visualize_array_sharding draws it, on one line: each [...] is a row of blocks
// (the second-to-last dimension), '|' separates the blocks of a row (the last dimension),
// and a block lists the devices that hold it. [0,2|1,3] is split by columns over two
// devices each; [0-3] is replicated; [0|1][2|3] is split both ways. Long rows and columns
// keep their ends around "..".
std::string block_picture(const ir::Shape& shape, const partitioner::Sharding& s, const partitioner::Mesh& mesh);

// Whether a collective moves data between devices (not only local slicing).
bool communicates(const partitioner::CollectiveRecord& r);

struct PlanReport {
  std::string model;   // the model spec or file
  std::string source;  // where the plan came from: "strategy dp", "tactics FILE" ...
  bool explain = false;
};

// The whole report; `program` is lower(g, plan) and `memory` its plan_program_memory.
std::string plan_report(const PlanReport& what, const ir::Graph& g, const partitioner::Plan& plan,
                        const partitioner::Program& program, const runtime::ProgramMemory& memory);

}  // namespace spmd::tools
