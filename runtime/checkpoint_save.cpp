// Saving: each rank its blocks, in parallel; rank 0 the manifest last, then the rename.
#include <cstdio>
#include <filesystem>
#include <functional>

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "runtime/checkpoint.h"
#include "runtime/checkpoint_blocks.h"

namespace spmd::runtime {
namespace fs = std::filesystem;
namespace {

std::string file_name(int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.bin", rank);
  return name;
}

// The shards `rank`'s file holds, at their offsets: the same on every rank, since every
// rank's blocks of a value have the same shape.
std::vector<SavedShard> shards_of(const std::vector<Held>& held, const std::vector<int>& mesh, int rank) {
  std::vector<SavedShard> shards;
  uint64_t offset = 0;
  for (const Held& h : held) {
    if (!writes_block(h.layout, mesh, rank)) continue;
    uint64_t bytes = static_cast<uint64_t>(ir::numel(collectives::local_shape(h.global, mesh, h.layout))) * sizeof(float);
    shards.push_back({h.node->name, offset, bytes});
    offset += bytes;
  }
  return shards;
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void on_lead(const launcher::World* world, const std::function<void()>& task) {
  if (world) {
    world->on_lead(task);
  } else {
    task();
  }
}

void start_directory(const std::string& root, const std::string& tmp) {
  std::error_code ec;
  fs::create_directories(root, ec);
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec)) {
    throw JobFailure("cannot create checkpoint directory '" + tmp + "': " + (ec ? ec.message() : "it exists"));
  }
}

// The shard file of this rank: its bytes and checksum.
std::pair<uint64_t, uint64_t> write_shards(const std::string& tmp, const std::vector<Held>& held,
                                           const std::vector<int>& mesh, int rank) {
  AtomicFile file((fs::path(tmp) / file_name(rank)).string(), "checkpoint shard file");
  uint64_t hash = kFnvStart, bytes = 0;
  for (const Held& h : held) {
    if (!writes_block(h.layout, mesh, rank)) continue;
    std::string block(reinterpret_cast<const char*>(h.data.data), static_cast<size_t>(h.data.numel()) * sizeof(float));
    hash = fnv64(block.data(), block.size(), hash);
    bytes += block.size();
    file.write(block);
  }
  file.commit();
  return {bytes, hash};
}

// Puts the finished directory in place of any older one of that step, then prunes.
void publish(const std::string& root, const std::string& tmp, const std::string& path, int keep) {
  fsync_directory(tmp);
  std::error_code ec;
  if (fs::exists(path, ec)) {
    const std::string old = path + ".old";
    fs::remove_all(old, ec);
    fs::rename(path, old, ec);
    if (ec) throw JobFailure("cannot replace checkpoint '" + path + "': " + ec.message());
  }
  fs::rename(tmp, path, ec);
  if (ec) throw JobFailure("cannot move checkpoint '" + tmp + "' into place: " + ec.message());
  fs::remove_all(path + ".old", ec);
  fsync_directory(root);
  std::vector<std::string> complete = complete_checkpoints(root);
  for (size_t i = 0; i + static_cast<size_t>(keep) < complete.size(); ++i) fs::remove_all(complete[i], ec);
}

Manifest make_manifest(const CheckpointInfo& info, const ir::Graph& g, const std::vector<Held>& held,
                       const std::vector<uint64_t>& bytes, const std::vector<uint64_t>& hashes) {
  Manifest m{info.model, info.program, info.model_fnv64, info.model_ir, info.optimizer, info.step, info.seed, {},
             info.topology_fingerprint, {}, {}};
  if (g.meta.has("mesh")) m.mesh = partitioner::parse_mesh(g.meta.s("mesh"));
  for (const Held& h : held) m.values.push_back({h.node->name, h.node->op, h.global, h.layout});
  for (size_t r = 0; r < bytes.size(); ++r) {
    int rank = static_cast<int>(r);
    m.files.push_back({file_name(rank), rank, bytes[r], hashes[r], shards_of(held, m.mesh.sizes, rank)});
  }
  return m;
}

}  // namespace

std::string save_checkpoint(const std::string& root, int keep, const Executor& ex, int rank,
                            const launcher::World* world, const CheckpointInfo& info) {
  const std::string path = checkpoint_path(root, info.step), tmp = path + ".tmp";
  const std::vector<int> mesh = mesh_sizes(ex.graph());
  std::vector<Held> held = held_values(ex.graph(), &ex);
  on_lead(world, [&] { start_directory(root, tmp); });
  auto [bytes, hash] = write_shards(tmp, held, mesh, rank);
  // The gathers are also the barrier: every file is complete before the manifest exists.
  std::vector<uint64_t> all_bytes = world ? world->all_gather(bytes) : std::vector<uint64_t>{bytes};
  std::vector<uint64_t> all_hashes = world ? world->all_gather(hash) : std::vector<uint64_t>{hash};
  on_lead(world, [&] {
    Manifest m = make_manifest(info, ex.graph(), held, all_bytes, all_hashes);
    write_file_atomically((fs::path(tmp) / kManifestName).string(), to_json(m).dump(1) + "\n", "checkpoint manifest");
    publish(root, tmp, path, keep);
  });
  return path;
}

}  // namespace spmd::runtime
