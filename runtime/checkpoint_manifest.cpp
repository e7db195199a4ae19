#include "runtime/checkpoint_manifest.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "ir/text.h"
#include "partitioner/json_fields.h"

namespace spmd::runtime {
namespace fs = std::filesystem;
namespace {

std::string hex(uint64_t x) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(x));
  return text;
}

// A file's checksum as written: 16 hex digits.
uint64_t from_hex(const std::string& text, const std::string& file) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (text.size() != 16 || ec != std::errc() || end != text.data() + text.size()) {
    throw Error("the fnv64 of file '" + file + "' is '" + text + "', not 16 hex digits");
  }
  return value;
}

// Each value's block shape on the saved mesh, its values checked: param or state, listed
// once, of positive dimensions, laid over axes the mesh has.
std::map<std::string, std::vector<int64_t>> value_blocks(const Manifest& m) {
  std::map<std::string, std::vector<int64_t>> blocks;
  for (const SavedValue& v : m.values) {
    const std::string what = v.kind + " '" + v.name + "'";
    if (v.kind != "param" && v.kind != "state") throw Error("value '" + v.name + "' is of kind '" + v.kind + "'");
    for (int64_t d : v.shape) {
      if (d <= 0) throw Error(what + " has a dimension of " + std::to_string(d));
    }
    if (v.layout.dims.size() != v.shape.size() || !v.layout.partial.empty()) {
      throw Error(what + " has layout " + collectives::to_string(v.layout) + ", not one of its " +
                  std::to_string(v.shape.size()) + " dimensions");
    }
    for (const auto& axes : v.layout.dims) {
      for (int a : axes) {
        if (a < 0 || a >= static_cast<int>(m.mesh.sizes.size())) throw Error(what + " is laid over an axis the mesh lacks");
      }
    }
    if (!blocks.emplace(v.name, collectives::local_shape(v.shape, m.mesh.sizes, v.layout)).second) {
      throw Error("value '" + v.name + "' is listed twice");
    }
  }
  return blocks;
}

// One file's shards: each one block of a listed value, once, inside the file, apart from the
// others. Counts the shards of each value into `shards_of`.
void check_shards(const SavedFile& f, const std::map<std::string, std::vector<int64_t>>& blocks,
                  std::map<std::string, int64_t>& shards_of) {
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // [offset, end) of each shard
  std::set<std::string> held;
  for (const SavedShard& s : f.shards) {
    const std::string what = "the shard of '" + s.value + "' in file '" + f.file + "'";
    auto block = blocks.find(s.value);
    if (block == blocks.end()) throw Error(what + " is of no value the manifest lists");
    if (!held.insert(s.value).second) throw Error(what + " is listed twice");
    ++shards_of[s.value];
    uint64_t expected = sizeof(float);
    for (int64_t d : block->second) expected *= static_cast<uint64_t>(d);
    if (s.bytes != expected) {
      throw Error(what + " has " + std::to_string(s.bytes) + " bytes, its block " + std::to_string(expected));
    }
    if (s.offset > f.bytes || s.bytes > f.bytes - s.offset) {
      throw Error(what + " ends past the file's " + std::to_string(f.bytes) + " bytes");
    }
    spans.emplace_back(s.offset, s.offset + s.bytes);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k) {
    if (spans[k].first < spans[k - 1].second) {
      throw Error("two shards of file '" + f.file + "' overlap at byte " + std::to_string(spans[k].first));
    }
  }
}

// What a manifest must say to be read back at all: a step and a data position that agree, an
// optimizer this program knows, values once each with a layout of the saved mesh, files of
// distinct saved ranks whose shards are each one block of a known value, inside the file and
// apart from the others, and as many blocks of each value as its layout cuts it into (a
// replicated copy is written once). O(values + shards).
void check_manifest(const Manifest& m, const nlohmann::ordered_json& j) {
  if (j.contains("data_position") && partitioner::whole_number<int64_t>(j.at("data_position"), "data_position") != m.step) {
    throw Error("data_position " + j.at("data_position").dump() + " is not the step, " + std::to_string(m.step));
  }
  if (m.optimizer != "adamw" && m.optimizer != "sgd") throw Error("optimizer '" + m.optimizer + "' is not adamw or sgd");
  const int ranks = m.mesh.size();
  if (j.contains("ranks") && partitioner::whole_number<int64_t>(j.at("ranks"), "ranks") != ranks) {
    throw Error("ranks " + j.at("ranks").dump() + " is not the mesh's " + std::to_string(ranks));
  }
  const auto blocks = value_blocks(m);
  std::set<std::string> names;
  std::set<int> writers;
  std::map<std::string, int64_t> shards_of;
  for (const SavedFile& f : m.files) {
    if (f.file.empty() || f.file.find('/') != std::string::npos || f.file == "." || f.file == "..") {
      throw Error("file name '" + f.file + "' is not a name inside the checkpoint directory");
    }
    if (!names.insert(f.file).second) throw Error("file '" + f.file + "' is listed twice");
    if (f.rank < 0 || f.rank >= ranks) {
      throw Error("file '" + f.file + "' is of rank " + std::to_string(f.rank) + ", not one of the " + std::to_string(ranks));
    }
    if (!writers.insert(f.rank).second) throw Error("two files are of rank " + std::to_string(f.rank));
    check_shards(f, blocks, shards_of);
  }
  for (const SavedValue& v : m.values) {
    int64_t cut = 1;  // the blocks its layout cuts it into
    for (const auto& axes : v.layout.dims) {
      for (int a : axes) cut *= m.mesh.sizes[static_cast<size_t>(a)];
    }
    if (shards_of[v.name] != cut) {
      throw Error(v.kind + " '" + v.name + "' has " + std::to_string(shards_of[v.name]) + " shards in the files, its layout " +
                  std::to_string(cut));
    }
  }
}

nlohmann::ordered_json value_json(const SavedValue& v) {
  return {{"name", v.name}, {"kind", v.kind}, {"dtype", "f32"}, {"shape", v.shape},
          {"layout", collectives::encode(v.layout)}};
}

nlohmann::ordered_json file_json(const SavedFile& f) {
  nlohmann::ordered_json shards = nlohmann::ordered_json::array();
  for (const SavedShard& s : f.shards) shards.push_back({{"value", s.value}, {"offset", s.offset}, {"bytes", s.bytes}});
  return {{"file", f.file}, {"rank", f.rank}, {"bytes", f.bytes}, {"fnv64", hex(f.fnv64)}, {"shards", shards}};
}

Manifest manifest_from_json(const nlohmann::ordered_json& j) {
  if (j.at("format").get<std::string>() != "spmd-checkpoint 1") throw Error("unknown format");
  Manifest m;
  m.model = j.at("model").get<std::string>();
  m.program = j.at("program").get<std::string>();
  if (j.contains("model_fnv64")) m.model_fnv64 = from_hex(j.at("model_fnv64").get<std::string>(), "the model");
  if (j.contains("model_ir")) m.model_ir = j.at("model_ir").get<std::string>();
  m.optimizer = j.at("optimizer").get<std::string>();
  m.step = partitioner::whole_number<int64_t>(j.at("step"), "step", 0);
  m.seed = partitioner::whole_number<uint64_t>(j.at("seed"), "seed");
  // An unpartitioned job saves no mesh: one device holding every value whole.
  if (!j.at("mesh").empty()) m.mesh = partitioner::mesh_from_json(j.at("mesh"));
  m.topology_fingerprint = j.at("topology_fingerprint").get<std::string>();
  for (const auto& v : j.at("values")) {
    if (v.at("dtype").get<std::string>() != "f32") {
      throw Error("value '" + v.at("name").get<std::string>() + "' is of dtype '" + v.at("dtype").get<std::string>() +
                  "': a checkpoint holds f32 values");
    }
    m.values.push_back({v.at("name").get<std::string>(), v.at("kind").get<std::string>(),
                        v.at("shape").get<std::vector<int64_t>>(),
                        collectives::decode_layout(v.at("layout").get<std::string>())});
  }
  for (const auto& f : j.at("files")) {
    const std::string name = f.at("file").get<std::string>();
    const std::string at = "file '" + name + "': ";
    SavedFile file{name, partitioner::whole_number<int>(f.at("rank"), at + "rank", 0),
                   partitioner::whole_number<uint64_t>(f.at("bytes"), at + "bytes"),
                   from_hex(f.at("fnv64").get<std::string>(), name), {}};
    for (const auto& s : f.at("shards")) {
      file.shards.push_back({s.at("value").get<std::string>(),
                             partitioner::whole_number<uint64_t>(s.at("offset"), at + "a shard's offset"),
                             partitioner::whole_number<uint64_t>(s.at("bytes"), at + "a shard's bytes")});
    }
    m.files.push_back(std::move(file));
  }
  check_manifest(m, j);
  return m;
}

// The step of a directory named step-NNNNNNNN (complete) or step-NNNNNNNN.tmp (being
// written, or abandoned); nullopt for any other name.
std::optional<int64_t> step_of(const std::string& name, bool& temporary) {
  if (name.rfind("step-", 0) != 0) return std::nullopt;
  std::string rest = name.substr(5);
  temporary = rest.size() > 4 && rest.compare(rest.size() - 4, 4, ".tmp") == 0;
  if (temporary) rest.resize(rest.size() - 4);
  if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t step = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), step);
  if (ec != std::errc() || end != rest.data() + rest.size()) return std::nullopt;  // not a step this writes
  return step;
}

bool has_manifest(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kManifestName, ec);
}

}  // namespace

const SavedValue* Manifest::find(const std::string& name) const {
  for (const SavedValue& v : values) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

nlohmann::ordered_json to_json(const Manifest& m) {
  nlohmann::ordered_json values = nlohmann::ordered_json::array(), files = nlohmann::ordered_json::array();
  for (const SavedValue& v : m.values) values.push_back(value_json(v));
  for (const SavedFile& f : m.files) files.push_back(file_json(f));
  nlohmann::ordered_json j = {{"format", "spmd-checkpoint 1"}, {"model", m.model}, {"program", m.program}};
  if (m.model_fnv64 != 0) j["model_fnv64"] = hex(m.model_fnv64);
  if (!m.model_ir.empty()) j["model_ir"] = m.model_ir;
  j.update(nlohmann::ordered_json{{"optimizer", m.optimizer},      {"step", m.step},     {"data_position", m.step},
                                  {"seed", m.seed},                {"mesh", partitioner::to_json(m.mesh)},
                                  {"ranks", m.mesh.size()},        {"topology_fingerprint", m.topology_fingerprint},
                                  {"values", values},              {"files", files}});
  return j;
}

ir::Graph forward_pass(const ir::Graph& g) {
  const ir::ValueId loss = g.output("loss");
  std::vector<char> used(static_cast<size_t>(loss) + 1, 0);
  used[static_cast<size_t>(loss)] = 1;
  for (ir::ValueId v = loss; v >= 0; --v) {
    if (!used[static_cast<size_t>(v)]) continue;
    for (ir::ValueId in : g.node(v).inputs) used[static_cast<size_t>(in)] = 1;
  }
  ir::Graph f;
  std::vector<ir::ValueId> renumbered(used.size(), -1);
  for (ir::ValueId v = 0; v <= loss; ++v) {
    if (!used[static_cast<size_t>(v)]) continue;
    ir::Node n = g.node(v);
    for (ir::ValueId& in : n.inputs) in = renumbered[static_cast<size_t>(in)];
    renumbered[static_cast<size_t>(v)] = f.size();
    f.nodes.push_back(std::move(n));
  }
  f.outputs = {{"loss", renumbered[static_cast<size_t>(loss)]}};
  return f;
}

uint64_t model_checksum(const ir::Graph& training_step) {
  const std::string text = ir::print(forward_pass(training_step));
  return fnv64(text.data(), text.size());
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kManifestName).string();
  std::string text = read_text_file(path, "checkpoint manifest");
  try {
    return manifest_from_json(nlohmann::ordered_json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint manifest '" + path + "' is not a valid manifest: " + partitioner::json_error_text(e, text));
  } catch (const std::exception& e) {
    throw Error("checkpoint manifest '" + path + "' is not a valid manifest: " + e.what());
  }
}

void verify_checkpoint(const std::string& dir, const Manifest& m) {
  for (const SavedFile& f : m.files) {
    const std::string path = (fs::path(dir) / f.file).string();
    require_regular_file(path, "checkpoint shard file");
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buffer(1 << 20);
    uint64_t hash = kFnvStart, size = 0;
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      hash = fnv64(buffer.data(), static_cast<size_t>(in.gcount()), hash);
      size += static_cast<uint64_t>(in.gcount());
    }
    if (size != f.bytes) {
      throw Error("checkpoint shard file '" + path + "' has " + std::to_string(size) + " bytes, the manifest says " +
                  std::to_string(f.bytes) + " (truncated?)");
    }
    if (hash != f.fnv64) {
      throw Error("checkpoint shard file '" + path + "' is corrupted: its checksum is " + hex(hash) +
                  ", the manifest says " + hex(f.fnv64));
    }
  }
}

std::optional<NonFinite> first_non_finite(const std::string& dir, const Manifest& m) {
  std::vector<float> buffer(1 << 18);
  for (const SavedFile& f : m.files) {
    const std::string path = (fs::path(dir) / f.file).string();
    std::ifstream in(path, std::ios::binary);
    for (const SavedShard& shard : f.shards) {
      NonFinite found{shard.value, f.file, 0, shard.bytes / sizeof(float)};
      in.seekg(static_cast<std::streamoff>(shard.offset));
      for (uint64_t left = found.elements; left > 0;) {
        const uint64_t n = std::min<uint64_t>(left, buffer.size());
        if (!in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(n * sizeof(float)))) {
          throw Error("checkpoint shard file '" + path + "' cannot be read where the manifest places " + shard.value);
        }
        found.count += static_cast<uint64_t>(
            std::count_if(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n), [](float x) { return !std::isfinite(x); }));
        left -= n;
      }
      if (found.count > 0) return found;
    }
  }
  return std::nullopt;
}

std::string checkpoint_path(const std::string& root, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return (fs::path(root) / name).string();
}

namespace {

// The complete checkpoints inside `root` with their steps, by ascending step.
std::vector<std::pair<int64_t, std::string>> complete_steps(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    bool temporary = false;
    auto step = step_of(entry.path().filename().string(), temporary);
    if (step && !temporary && has_manifest(entry.path())) found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<std::string> complete_checkpoints(const std::string& root) {
  std::vector<std::string> paths;
  for (auto& [step, path] : complete_steps(root)) paths.push_back(path);
  return paths;
}

std::optional<int64_t> newest_checkpoint_step(const std::string& root) {
  const auto found = complete_steps(root);
  if (found.empty()) return std::nullopt;
  return found.back().first;
}

Located locate_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error("checkpoint directory '" + dir + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw Error("checkpoint '" + dir + "' is a file, not a checkpoint directory");
  if (has_manifest(dir)) return {dir, {}};
  bool temporary = false;
  if (step_of(fs::path(dir).lexically_normal().filename().string(), temporary) ||
      step_of(fs::path(dir).lexically_normal().parent_path().filename().string(), temporary)) {
    throw Error("checkpoint '" + dir + "' is incomplete: it has no " + kManifestName + " (its save did not finish)");
  }
  // By descending step, a complete directory before a temporary one of the same step.
  std::vector<std::tuple<int64_t, bool, std::string>> all;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    bool temporary = false;
    if (auto step = step_of(entry.path().filename().string(), temporary)) {
      all.emplace_back(*step, !temporary, entry.path().string());
    }
  }
  std::sort(all.rbegin(), all.rend());
  Located located;
  for (auto& [step, complete, path] : all) {
    if (complete && has_manifest(path)) {
      located.path = path;
      return located;
    }
    located.skipped.push_back(path);
  }
  if (!all.empty()) throw Error("checkpoint '" + std::get<2>(all.front()) + "' is incomplete (no " + kManifestName + ") and '" + dir + "' holds no complete one");
  throw Error("'" + dir + "' holds no checkpoint (no " + kManifestName + ", no step-* directory)");
}

}  // namespace spmd::runtime
