// A checkpoint on disk (docs/checkpoint.md): a directory `step-NNNNNNNN` holding one shard
// file per rank and `manifest.json`, written last by rank 0. The manifest says what the
// files hold (each value's global shape and layout on the saved mesh, and where each
// rank's shard of it lies in that rank's file) and a checksum per file, so a checkpoint
// can be checked whole, and read back under any other plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collectives/layout.h"
#include "ir/graph.h"
#include "partitioner/mesh.h"

namespace spmd::runtime {

struct SavedValue {
  std::string name;
  std::string kind;  // "param" or "state"
  std::vector<int64_t> shape;  // global, f32
  collectives::Layout layout;  // on the saved mesh
};

struct SavedShard {
  std::string value;
  uint64_t offset = 0;  // bytes into the file
  uint64_t bytes = 0;
};

struct SavedFile {
  std::string file;  // name inside the checkpoint directory
  int rank = 0;      // its writer, whose mesh coordinates place its shards
  uint64_t bytes = 0;
  uint64_t fnv64 = 0;
  std::vector<SavedShard> shards;
};

struct Manifest {
  std::string model;    // the graph's meta `model` (a zoo spec), or the program's description
  std::string program;  // where the program came from: spec, IR file, "a graph built in code"
  // The model's computation (model_checksum), to tell apart models of the same shapes; 0
  // in a manifest without it (not checked). `model_ir`: the forward pass's IR where `model`
  // is no zoo spec that rebuilds it, else "".
  uint64_t model_fnv64 = 0;
  std::string model_ir;
  std::string optimizer;
  int64_t step = 0;     // steps done; also the data position: the next batch is step `step`
  uint64_t seed = 0;
  partitioner::Mesh mesh;  // empty: one unpartitioned device
  std::string topology_fingerprint;  // "" when unknown
  std::vector<SavedValue> values;
  std::vector<SavedFile> files;

  const SavedValue* find(const std::string& name) const;
};

inline constexpr const char* kManifestName = "manifest.json";

nlohmann::ordered_json to_json(const Manifest& m);
// Reads `dir`/manifest.json; throws spmd::Error naming the file when it is missing or is
// not a manifest.
Manifest read_manifest(const std::string& dir);

// The forward pass of a global training step: what its loss depends on, renumbered, without
// meta, gradients or optimizer (a checkpoint resumes under another learning rate).
ir::Graph forward_pass(const ir::Graph& training_step);
// FNV-1a 64 of the forward pass's printed IR: equal for the same model under any plan,
// rank count or optimizer. O(size of the graph).
uint64_t model_checksum(const ir::Graph& training_step);

// Checks every shard file of the checkpoint in `dir`: present, of the manifest's size, with
// its checksum. Throws spmd::Error naming the first bad file. Cost: one read of every file.
void verify_checkpoint(const std::string& dir, const Manifest& m);

// A saved value with NaN or infinite elements: `count` of the `elements` its shard in
// `file` holds.
struct NonFinite {
  std::string value, file;
  uint64_t count = 0, elements = 0;
};

// The first shard (in the manifest's order of files and shards) of the checkpoint in `dir`
// holding a NaN or infinite element; nullopt where every element is finite. Checksums vouch
// for a shard's bytes, not for its numbers. Throws spmd::Error naming a file that cannot be
// read as the manifest says. Cost: one read of every file.
std::optional<NonFinite> first_non_finite(const std::string& dir, const Manifest& m);

// The checkpoint directory of step `step` inside `root`: root/step-00000010.
std::string checkpoint_path(const std::string& root, int64_t step);

// Which checkpoint `--resume`-style reading of `dir` means: `dir` itself when it holds a
// manifest, else the complete checkpoint of the highest step inside it. `skipped` names
// newer checkpoints passed over because they have no manifest (a save that did not finish).
// Throws spmd::Error when `dir` does not exist or holds no complete checkpoint.
struct Located {
  std::string path;
  std::vector<std::string> skipped;
};
Located locate_checkpoint(const std::string& dir);

// The complete checkpoints inside `root`, by ascending step.
std::vector<std::string> complete_checkpoints(const std::string& root);
// The step of the newest complete checkpoint inside `root`, read from its directory's name;
// nullopt when there is none (or no `root`). One listing of `root`.
std::optional<int64_t> newest_checkpoint_step(const std::string& root);

}  // namespace spmd::runtime
