#include "runtime/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/files.h"
#include "ir/ops.h"

namespace spmd::runtime {
namespace fs = std::filesystem;
namespace {

// A param or state of the running program: its global shape, its layout on the mesh, and
// this rank's block of it.
struct Held {
  const ir::Node* node;
  std::vector<int64_t> global;
  collectives::Layout layout;
  kernels::TensorRef data;
};

std::vector<int> mesh_sizes(const ir::Graph& g) {
  return g.meta.has("mesh") ? partitioner::parse_mesh(g.meta.s("mesh")).sizes : std::vector<int>{};
}

std::vector<Held> held_values(const ir::Graph& g, const Executor* ex) {
  const bool partitioned = g.meta.has("mesh");
  std::vector<Held> held;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (ir::op_traits(n.op).source != ir::Source::initialized) continue;
    const bool sharded = partitioned && n.attrs.has("layout");
    Held h{&n, sharded ? n.attrs.ints("global") : n.type.shape,
           sharded ? collectives::decode_layout(n.attrs.s("layout"))
                   : collectives::Layout{std::vector<std::vector<int>>(n.type.shape.size()), {}},
           ex ? ex->value(v) : kernels::TensorRef{}};
    held.push_back(std::move(h));
  }
  return held;
}

// The first global index of `rank`'s block in each dimension.
std::vector<int64_t> block_origin(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                  const collectives::Layout& l, int rank) {
  std::vector<int64_t> local = collectives::local_shape(global, mesh, l);
  std::vector<int> coords = collectives::mesh_coords(rank, mesh);
  std::vector<int64_t> origin(global.size());
  for (size_t d = 0; d < global.size(); ++d) {
    int64_t block = 0;
    for (int a : l.dims[d]) block = block * mesh[a] + coords[a];
    origin[d] = block * local[d];
  }
  return origin;
}

// One copy of each block is written: by the rank at coordinate 0 of every axis that does
// not split the value (the axes it is replicated over).
bool writes_block(const collectives::Layout& l, const std::vector<int>& mesh, int rank) {
  std::vector<int> coords = collectives::mesh_coords(rank, mesh);
  for (size_t a = 0; a < mesh.size(); ++a) {
    bool splits = false;
    for (const auto& axes : l.dims) splits = splits || std::find(axes.begin(), axes.end(), static_cast<int>(a)) != axes.end();
    if (!splits && coords[a] != 0) return false;
  }
  return true;
}

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
  Manifest m{info.model, info.program, info.optimizer, info.step, info.seed, {}, info.topology_fingerprint, {}, {}};
  if (g.meta.has("mesh")) m.mesh = partitioner::parse_mesh(g.meta.s("mesh"));
  for (const Held& h : held) m.values.push_back({h.node->name, h.node->op, h.global, h.layout});
  for (size_t r = 0; r < bytes.size(); ++r) {
    int rank = static_cast<int>(r);
    m.files.push_back({file_name(rank), rank, bytes[r], hashes[r], shards_of(held, m.mesh.sizes, rank)});
  }
  return m;
}

// Reads the runs of one saved shard that fall in this rank's block `h` (at `origin`), into
// its buffer. Returns the number of elements read.
int64_t read_overlap(int fd, const std::string& path, const SavedShard& s, const SavedValue& saved,
                     const std::vector<int>& saved_mesh, int saved_rank, const Held& h,
                     const std::vector<int64_t>& origin) {
  const size_t dims = h.global.size();
  std::vector<int64_t> s_local = collectives::local_shape(saved.shape, saved_mesh, saved.layout);
  std::vector<int64_t> s_origin = block_origin(saved.shape, saved_mesh, saved.layout, saved_rank);
  const std::vector<int64_t>& n_local = h.data.type.shape;
  std::vector<int64_t> lo(dims), extent(dims);
  for (size_t d = 0; d < dims; ++d) {
    lo[d] = std::max(origin[d], s_origin[d]);
    extent[d] = std::min(origin[d] + n_local[d], s_origin[d] + s_local[d]) - lo[d];
    if (extent[d] <= 0) return 0;
  }
  // Runs along the last dimension, contiguous in the file and in the buffer.
  const int64_t run = dims ? extent.back() : 1;
  const int64_t runs = dims ? ir::numel(extent) / run : 1;
  for (int64_t r = 0; r < runs; ++r) {
    int64_t rest = r, at_saved = 0, at_new = 0, s_stride = 1, n_stride = 1;
    for (int d = static_cast<int>(dims) - 1; d >= 0; --d) {
      int64_t i = lo[d];
      if (d != static_cast<int>(dims) - 1) {
        i += rest % extent[d];
        rest /= extent[d];
      }
      at_saved += (i - s_origin[d]) * s_stride;
      at_new += (i - origin[d]) * n_stride;
      s_stride *= s_local[d];
      n_stride *= n_local[d];
    }
    const size_t want = static_cast<size_t>(run) * sizeof(float);
    const off_t where = static_cast<off_t>(s.offset + static_cast<uint64_t>(at_saved) * sizeof(float));
    if (::pread(fd, h.data.f32() + at_new, want, where) != static_cast<ssize_t>(want)) {
      throw Error("checkpoint shard file '" + path + "' is shorter than its manifest says");
    }
  }
  return runs * run;
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

void check_checkpoint_fits(const std::string& path, const Manifest& m, const ir::Graph& program) {
  const std::string where = "checkpoint '" + (fs::path(path) / kManifestName).string() + "'";
  std::vector<Held> held = held_values(program, nullptr);
  for (const Held& h : held) {
    const SavedValue* saved = m.find(h.node->name);
    if (!saved) throw Error(where + " is of another model (" + m.model + "): it has no " + h.node->op + " '" + h.node->name + "'");
    if (saved->shape != h.global || saved->kind != h.node->op) {
      throw Error(where + " is of another model (" + m.model + "): its " + saved->kind + " '" + saved->name +
                  "' is " + ir::to_string(ir::TensorType{ir::DType::f32, saved->shape}) + ", not " +
                  ir::to_string(ir::TensorType{ir::DType::f32, h.global}));
    }
  }
  if (held.size() != m.values.size()) {
    throw Error(where + " is of another model (" + m.model + "): it holds " + std::to_string(m.values.size()) +
                " params and states, this program " + std::to_string(held.size()));
  }
}

void load_checkpoint(const std::string& path, const Manifest& m, Executor& ex, int rank) {
  const std::vector<int> mesh = mesh_sizes(ex.graph());
  const std::vector<Held> held = held_values(ex.graph(), &ex);
  std::map<std::string, int64_t> filled;
  for (const SavedFile& f : m.files) {
    const std::string file = (fs::path(path) / f.file).string();
    int fd = -1;
    for (const Held& h : held) {
      std::vector<int64_t> origin = block_origin(h.global, mesh, h.layout, rank);
      const SavedValue* saved = m.find(h.node->name);
      for (const SavedShard& s : f.shards) {
        if (s.value != h.node->name) continue;
        if (fd < 0) fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw Error("checkpoint shard file '" + file + "' cannot be read");
        filled[s.value] += read_overlap(fd, file, s, *saved, m.mesh.sizes, f.rank, h, origin);
      }
    }
    if (fd >= 0) ::close(fd);
  }
  for (const Held& h : held) {
    if (filled[h.node->name] != h.data.numel()) {
      throw Error("checkpoint '" + path + "' does not cover this rank's block of '" + h.node->name + "'");
    }
  }
}

}  // namespace spmd::runtime
