// Saving a job's params and optimizer state, and reading them back under any plan
// (docs/checkpoint.md). Every rank writes the shards it holds (one copy of each block: a
// replicated block by the rank at coordinate 0 of the axes that replicate it) into its own
// file, in parallel; rank 0 then writes the manifest and renames the directory into place.
// Reading, every rank computes for each saved shard its global block from the saved layout
// and the writer's mesh coordinates, intersects it with the block it holds now, and reads
// only those runs of the file.
#pragma once

#include <cstdint>
#include <string>

#include "launcher/world.h"
#include "runtime/checkpoint_manifest.h"
#include "runtime/executor.h"

namespace spmd::runtime {

// What a checkpoint says about the job besides the tensors.
struct CheckpointInfo {
  std::string model, program, optimizer;
  int64_t step = 0;
  uint64_t seed = 0;
  std::string topology_fingerprint;
  uint64_t model_fnv64 = 0;  // model_checksum of the global training step
  std::string model_ir;      // its forward pass where no zoo spec rebuilds it, else ""
};

// Writes checkpoint `root`/step-NNNNNNNN of `ex`'s params and state: the files under
// step-NNNNNNNN.tmp, fsynced, the manifest last, then the directory renamed into place; the
// older complete checkpoints beyond the newest `keep` are then removed. Collective over
// `world` (null: this process alone); `rank` is this process's rank of the program's mesh.
// Throws spmd::JobFailure when a file cannot be written. Returns the checkpoint's path.
std::string save_checkpoint(const std::string& root, int keep, const Executor& ex, int rank,
                            const launcher::World* world, const CheckpointInfo& info);

// Throws spmd::Error naming `path`'s manifest unless it holds exactly the params and state
// of `program` (a per-device program or a global graph), with the same global shapes.
void check_checkpoint_fits(const std::string& path, const Manifest& m, const ir::Graph& program);
// Throws spmd::Error naming `path`'s manifest when it records a model checksum and it is not
// `global_step`'s (model_checksum): another model of the same params' shapes, such as a GPT
// with other heads.
void check_same_model(const std::string& path, const Manifest& m, const ir::Graph& global_step);

// Fills `ex`'s params and state from the checkpoint at `path`, reading only the parts of
// the shard files that this rank's blocks need. Not collective. Throws spmd::Error naming a
// file that cannot be read or does not cover a block.
void load_checkpoint(const std::string& path, const Manifest& m, Executor& ex, int rank);

}  // namespace spmd::runtime
