#include "common/units.h"
#include "tools/plan_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "collectives/layout.h"

namespace spmd::tools {
namespace {

using partitioner::CollectiveRecord;
using partitioner::Mesh;
using partitioner::Plan;
using partitioner::Sharding;

// Keeps the ends of a long list around "..": the first `head` items and the last one.
std::vector<std::string> keep_ends(const std::vector<std::string>& items, size_t limit, size_t head) {
  if (items.size() <= limit) return items;
  std::vector<std::string> out(items.begin(), items.begin() + static_cast<ptrdiff_t>(head));
  out.push_back("..");
  out.push_back(items.back());
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// The block a device holds along a dimension split over `axes` (major first).
int block_index(const std::vector<int>& coords, const std::vector<int>& axes, const Mesh& mesh) {
  int index = 0;
  for (int a : axes) index = index * mesh.sizes[a] + coords[a];
  return index;
}

int block_count(const std::vector<int>& axes, const Mesh& mesh) {
  int n = 1;
  for (int a : axes) n *= mesh.sizes[a];
  return n;
}

// "tactic 4" of "tactic 4 (param:layer*.mlp.w_in dim 1 -> model)"; "-" for no tactic.
std::string short_origin(const std::string& origin) {
  if (origin.empty()) return "-";
  size_t paren = origin.find(" (");
  return paren == std::string::npos ? origin : origin.substr(0, paren);
}

std::string shape_text(const ir::Shape& s) { return ir::to_string(s); }

// Where the plan came from, as the header says it.
std::string source_text(const std::string& source) {
  if (source == "one device") return "every value replicated on one device";
  if (source.rfind("plan ", 0) == 0) return "plan from file " + source.substr(5);
  if (source.rfind("tactics ", 0) == 0) return "plan from tactics file " + source.substr(8);
  return "plan from " + source;
}

std::string header_section(const PlanReport& what, const ir::Graph& g, const Plan& plan) {
  std::string out = "spmd plan " + g.meta.s("model", what.model) + "  (" + g.meta.s("optimizer", "?") + ")\n";
  int n = plan.mesh.size();
  out += "mesh " + plan.mesh.to_string() + ": " + std::to_string(n) + (n == 1 ? " device" : " devices") +
         "; " + source_text(what.source) + "\n";
  return out;
}

// The tactics named by the values' origins, in their order.
std::string tactics_section(const Plan& plan) {
  std::map<int, std::string> tactics;
  for (const std::string& o : plan.origin) {
    int number = 0;
    if (std::sscanf(o.c_str(), "tactic %d", &number) != 1) continue;
    size_t paren = o.find(" (");
    if (paren != std::string::npos && o.size() > paren + 3) tactics[number] = o.substr(paren + 2, o.size() - paren - 3);
  }
  if (tactics.empty()) return "";
  TextTable table({"tactic", "what it shards"});
  for (const auto& [number, text] : tactics) table.add({std::to_string(number), text});
  return "\ntactics that set the shardings below:\n" + table.text("  ");
}

std::string parameters_section(const ir::Graph& g, const Plan& plan) {
  std::vector<ir::ValueId> params = g.nodes_with_op("param");
  std::string out = "\nparameters (" + std::to_string(params.size()) + "):\n";
  TextTable table({"param", "shape", "sharding", "local shape", "devices", "set by"});
  for (ir::ValueId v : params) {
    const Sharding& s = plan.of(v);
    table.add({ir::value_label(g, v), shape_text(g.type(v).shape), partitioner::sharding_text(s, plan.mesh),
               shape_text(partitioner::local_shape(g, plan, v)), block_picture(g.type(v).shape, s, plan.mesh),
               short_origin(plan.origin.at(static_cast<size_t>(v)))});
  }
  return out + table.text("  ") +
         "  devices: a [..] per row of blocks of the last two dimensions, '|' between the blocks of a row,\n"
         "  each block the devices that hold it\n";
}

// The global value a label names: "%116" or "%layer0.mlp.w_in"; -1 when none.
ir::ValueId value_of_label(const ir::Graph& g, const std::string& label) {
  std::string name = label.substr(label.rfind('%') == 0 ? 1 : 0);
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) return std::stoi(name);
  return g.find(name).value_or(-1);
}

// The param whose optimizer update reads value `v` as its gradient, per value ("" if none):
// the operands of an update that are neither sources nor other updates' values.
std::vector<std::string> gradient_owners(const ir::Graph& g) {
  std::vector<bool> is_update(g.nodes.size(), false);
  for (const auto& [target, next] : g.updates) is_update[next] = true;
  std::vector<std::string> owner(g.nodes.size());
  for (const auto& [target, next] : g.updates) {
    std::string param = g.node(target).name;
    if (g.node(target).op == "state" && param.rfind('.') != std::string::npos) param = param.substr(0, param.rfind('.'));
    for (ir::ValueId x : g.node(next).inputs) {
      if (!g.node(x).is_source() && !is_update[x] && owner[x].empty()) owner[x] = param;
    }
  }
  return owner;
}

// "%116 (grad of %head.w)", "%37 (matmul)", "%layer0.attn.wq".
std::string value_text(const ir::Graph& g, const std::vector<std::string>& owners, const std::string& label) {
  ir::ValueId v = value_of_label(g, label);
  if (v < 0 || v >= g.size() || !g.node(v).name.empty()) return label;
  if (!owners[v].empty()) return label + " (grad of %" + owners[v] + ")";
  return label + " (" + g.node(v).op + ")";
}

std::string collectives_section(const ir::Graph& g, const partitioner::Program& program, bool explain) {
  const std::vector<std::string> owners = gradient_owners(g);
  const auto& records = program.collectives;
  std::string out = "\ncollectives of one step (" + std::to_string(records.size()) + ")" +
                    (explain ? ", each with the reason it is there" : "; --explain says why each is there") + ":\n";
  if (records.empty()) return out + "  none: every op finds its operands as it needs them\n";
  TextTable table({"#", "value", "from -> to", "steps", "bytes/device"});
  std::vector<std::string> reasons;
  for (size_t i = 0; i < records.size(); ++i) {
    const CollectiveRecord& r = records[i];
    table.add({std::to_string(i + 1), value_text(g, owners, r.value), r.from + " -> " + r.to, r.steps,
               communicates(r) ? bytes_text(r.bytes) : "0 B (local)"});
    reasons.push_back(explain ? "      why: " + (r.reason.empty() ? std::string("(no reason recorded)") : r.reason) + "\n"
                              : "");
  }
  out += table.text("  ", reasons);
  bool all_explained = std::all_of(records.begin(), records.end(), [](const CollectiveRecord& r) { return !r.reason.empty(); });
  if (explain && all_explained) out += "  every collective has a recorded reason\n";
  return out;
}

// "all-reduce along data" of "all-reduce along data"; "all-gather along model" of
// "all-gather along model of dim 1"; "" for a local step.
std::string step_kind(const std::string& step) {
  if (step.find("(local)") != std::string::npos) return "";
  size_t along = step.find(" along ");
  if (along == std::string::npos) return step;
  size_t axis_end = step.find_first_of(" :", along + 7);
  return step.substr(0, axis_end);
}

std::vector<std::string> split_steps(const std::string& steps) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= steps.size()) {
    size_t comma = steps.find(", ", start);
    if (comma == std::string::npos) comma = steps.size();
    if (comma > start) out.push_back(steps.substr(start, comma - start));
    start = comma + 2;
  }
  return out;
}

std::string summary_section(const partitioner::Program& program, const runtime::ProgramMemory& memory) {
  size_t moved = 0, count = 0;
  std::map<std::string, std::pair<int, size_t>> by_kind;  // kind -> (count, bytes)
  for (const CollectiveRecord& r : program.collectives) {
    if (!communicates(r)) continue;
    ++count;
    moved += r.bytes;
    std::vector<std::string> kinds;
    for (const std::string& step : split_steps(r.steps)) {
      if (std::string k = step_kind(step); !k.empty()) kinds.push_back(k);
    }
    auto& [n, bytes] = by_kind[join(kinds, " + ")];
    ++n;
    bytes += r.bytes;
  }
  std::string out = "\nsummary, per device:\n";
  out += "  communication per step: " + std::to_string(count) + " collective" + (count == 1 ? "" : "s") + " moving " +
         bytes_text(moved);
  size_t local = program.collectives.size() - count;
  if (local) out += " (and " + std::to_string(local) + " local re-slicing" + (local == 1 ? "" : "s") + ")";
  out += "\n";
  for (const auto& [kind, nb] : by_kind) {
    out += "    " + kind + ": " + std::to_string(nb.first) + ", " + bytes_text(nb.second) + "\n";
  }
  if (program.recomputed > 0) {
    out += "  recomputation: " + std::to_string(program.recomputed) +
           " ops run again in backward, in place of the activations they would keep\n";
  }
  const ir::Graph& g = program.graph;
  size_t params = memory.owned_bytes(g, "param"), state = memory.owned_bytes(g, "state");
  size_t inputs = memory.owned_bytes(g, "input");
  size_t other = memory.persistent_bytes - std::min(memory.persistent_bytes, params + state + inputs);
  out += "  memory (planned): params " + bytes_text(params) + ", optimizer state " + bytes_text(state) + ", inputs " +
         bytes_text(inputs) + ", outputs and update buffers " + bytes_text(other) + "\n";
  out += "    activations arena " + bytes_text(memory.arena.arena_bytes) + " (" + bytes_text(memory.arena.naive_bytes) +
         " without reuse)\n";
  out += "    peak " + bytes_text(memory.peak_bytes()) + "\n";
  return out;
}

}  // namespace

std::string TextTable::text(const std::string& indent, const std::vector<std::string>& after) const {
  std::vector<size_t> width(rows_[0].size(), 0);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (size_t r = 0; r < rows_.size(); ++r) {
    std::string line = indent;
    for (size_t c = 0; c < rows_[r].size(); ++c) {
      line += rows_[r][c];
      if (c + 1 < rows_[r].size()) line += std::string(width[c] - rows_[r][c].size() + 2, ' ');
    }
    out += line + "\n";
    if (r > 0 && r - 1 < after.size() && !after[r - 1].empty()) out += after[r - 1];
  }
  return out;
}

std::string device_list(const std::vector<int>& devices) {
  std::vector<std::string> items;
  for (size_t i = 0; i < devices.size();) {
    size_t j = i;
    while (j + 1 < devices.size() && devices[j + 1] == devices[j] + 1) ++j;
    if (j - i >= 2) {
      items.push_back(std::to_string(devices[i]) + "-" + std::to_string(devices[j]));
    } else {
      for (size_t k = i; k <= j; ++k) items.push_back(std::to_string(devices[k]));
    }
    i = j + 1;
  }
  return join(keep_ends(items, 5, 3), ",");
}

std::string block_picture(const ir::Shape& shape, const Sharding& s, const Mesh& mesh) {
  const int rank = static_cast<int>(shape.size());
  static const std::vector<int> none;
  const std::vector<int>& row_axes = rank >= 2 ? s.dims[rank - 2] : none;
  const std::vector<int>& col_axes = rank >= 1 ? s.dims[rank - 1] : none;
  const int rows = block_count(row_axes, mesh), cols = block_count(col_axes, mesh);
  std::vector<std::vector<std::vector<int>>> holders(rows, std::vector<std::vector<int>>(cols));
  for (int device = 0; device < mesh.size(); ++device) {
    std::vector<int> coords = collectives::mesh_coords(device, mesh.sizes);
    holders[block_index(coords, row_axes, mesh)][block_index(coords, col_axes, mesh)].push_back(device);
  }
  std::vector<std::string> row_texts;
  for (const auto& row : holders) {
    std::vector<std::string> cells;
    for (const auto& devices : row) cells.push_back(device_list(devices));
    std::string text = "[";
    text += join(keep_ends(cells, 6, 3), "|");
    text += "]";
    row_texts.push_back(std::move(text));
  }
  return join(keep_ends(row_texts, 4, 2), "");
}

bool communicates(const CollectiveRecord& r) {
  for (const std::string& step : split_steps(r.steps)) {
    if (!step_kind(step).empty()) return true;
  }
  return false;
}

std::string plan_report(const PlanReport& what, const ir::Graph& g, const Plan& plan,
                        const partitioner::Program& program, const runtime::ProgramMemory& memory) {
  return header_section(what, g, plan) + tactics_section(plan) + parameters_section(g, plan) +
         collectives_section(g, program, what.explain) + summary_section(program, memory);
}

}  // namespace spmd::tools
