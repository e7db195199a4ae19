#include "runtime/checkpoint_manifest.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/error.h"
#include "common/files.h"

namespace spmd::runtime {
namespace fs = std::filesystem;
namespace {

std::string hex(uint64_t x) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(x));
  return text;
}

uint64_t from_hex(const std::string& text) { return std::stoull(text, nullptr, 16); }

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
  m.optimizer = j.at("optimizer").get<std::string>();
  m.step = j.at("step").get<int64_t>();
  m.seed = j.at("seed").get<uint64_t>();
  // An unpartitioned job saves no mesh: one device holding every value whole.
  if (!j.at("mesh").empty()) m.mesh = partitioner::mesh_from_json(j.at("mesh"));
  m.topology_fingerprint = j.at("topology_fingerprint").get<std::string>();
  for (const auto& v : j.at("values")) {
    m.values.push_back({v.at("name").get<std::string>(), v.at("kind").get<std::string>(),
                        v.at("shape").get<std::vector<int64_t>>(),
                        collectives::decode_layout(v.at("layout").get<std::string>())});
  }
  for (const auto& f : j.at("files")) {
    SavedFile file{f.at("file").get<std::string>(), f.at("rank").get<int>(), f.at("bytes").get<uint64_t>(),
                   from_hex(f.at("fnv64").get<std::string>()), {}};
    for (const auto& s : f.at("shards")) {
      file.shards.push_back({s.at("value").get<std::string>(), s.at("offset").get<uint64_t>(), s.at("bytes").get<uint64_t>()});
    }
    m.files.push_back(std::move(file));
  }
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
  return std::stoll(rest);
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
  return {{"format", "spmd-checkpoint 1"}, {"model", m.model},   {"program", m.program},
          {"optimizer", m.optimizer},      {"step", m.step},     {"data_position", m.step},
          {"seed", m.seed},                {"mesh", partitioner::to_json(m.mesh)},
          {"ranks", m.mesh.size()},        {"topology_fingerprint", m.topology_fingerprint},
          {"values", values},              {"files", files}};
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kManifestName).string();
  std::string text = read_text_file(path, "checkpoint manifest");
  try {
    return manifest_from_json(nlohmann::ordered_json::parse(text));
  } catch (const std::exception& e) {
    throw Error("checkpoint manifest '" + path + "' is not a valid manifest: " + e.what());
  }
}

uint64_t fnv64(const void* bytes, size_t size, uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
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

std::string checkpoint_path(const std::string& root, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return (fs::path(root) / name).string();
}

std::vector<std::string> complete_checkpoints(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    bool temporary = false;
    auto step = step_of(entry.path().filename().string(), temporary);
    if (step && !temporary && has_manifest(entry.path())) found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [step, path] : found) paths.push_back(path);
  return paths;
}

Located locate_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("checkpoint directory '" + dir + "' does not exist");
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
