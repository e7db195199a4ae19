// Loading under any plan: each rank reads, from each saved shard, the runs that fall in its
// own blocks.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/checkpoint.h"
#include "runtime/checkpoint_blocks.h"

namespace spmd::runtime {
namespace fs = std::filesystem;
namespace {

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

void check_same_model(const std::string& path, const Manifest& m, const ir::Graph& global_step) {
  if (m.model_fnv64 == 0) return;  // written before checkpoints recorded it
  const uint64_t mine = model_checksum(global_step);
  if (m.model_fnv64 == mine) return;
  char text[80];
  std::snprintf(text, sizeof text, " (model checksum %016llx, this program's %016llx)",
                static_cast<unsigned long long>(m.model_fnv64), static_cast<unsigned long long>(mine));
  throw Error("checkpoint '" + (fs::path(path) / kManifestName).string() + "' is of another model (" + m.model +
              "): its params have this program's shapes, but its forward pass differs" + text);
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
    ex.commit_host_value(h.id);
  }
}


}  // namespace spmd::runtime
