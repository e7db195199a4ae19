#include "collectives/mpi/node_windows.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "launcher/deadline_guard.h"

namespace spmd::collectives::mpi {
namespace {

struct Window {
  int64_t id = 0;
  MPI_Win win = MPI_WIN_NULL;
  float* base = nullptr;
  std::size_t floats = 0;
  int rank = 0, size = 1;
};

struct Registry {
  std::mutex mutex;
  std::vector<Window> windows;
};
Registry& registry() {
  static Registry r;
  return r;
}

void check(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw Error(std::string(call) + " failed: " + launcher::mpi_message(rc));
}

}  // namespace

NewWindow create_node_window(MPI_Comm node, std::size_t floats, launcher::Seconds timeout) {
  Window w;
  MPI_Comm_rank(node, &w.rank);
  MPI_Comm_size(node, &w.size);
  // An id unique in the job: the world rank of the node's first member, and its count of
  // windows made; every member learns it from that member.
  static std::atomic<int64_t> made{0};
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  w.id = (static_cast<int64_t>(world_rank) << 32) | (++made & 0xffffffff);
  {
    const launcher::DeadlineGuard guard("MPI_Win_allocate_shared", w.rank, w.size, timeout);
    check(MPI_Bcast(&w.id, 1, MPI_INT64_T, 0, node), "MPI_Bcast");
    void* base = nullptr;
    // One float at least: a zero-size member has no address to query.
    const std::size_t bytes = std::max<std::size_t>(floats, 1) * sizeof(float);
    check(MPI_Win_allocate_shared(static_cast<MPI_Aint>(bytes), sizeof(float), MPI_INFO_NULL, node, &base, &w.win),
          "MPI_Win_allocate_shared");
    w.base = static_cast<float*>(base);
  }
  w.floats = floats;
  check(MPI_Win_lock_all(MPI_MODE_NOCHECK, w.win), "MPI_Win_lock_all");
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().windows.push_back(w);
  return {w.base, w.id};
}

void free_node_window(int64_t id, launcher::Seconds timeout) {
  Window w;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    auto& all = registry().windows;
    auto it = std::ranges::find(all, id, &Window::id);
    if (it == all.end()) return;
    w = *it;
    all.erase(it);
  }
  MPI_Win_unlock_all(w.win);
  const launcher::DeadlineGuard guard("MPI_Win_free", w.rank, w.size, timeout);
  MPI_Win_free(&w.win);
}

WindowPlace place_of(const float* p, std::size_t n) {
  if (n == 0) return {kEmptyBuffer, 0, 0};
  std::lock_guard<std::mutex> lock(registry().mutex);
  for (const Window& w : registry().windows) {
    if (p >= w.base && p + n <= w.base + w.floats) return {w.id, w.rank, p - w.base};
  }
  return {};
}

float* address_of(const WindowPlace& place) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  for (const Window& w : registry().windows) {
    if (w.id != place.window) continue;
    if (place.rank < 0 || place.rank >= w.size) return nullptr;
    MPI_Aint bytes = 0;
    int unit = 0;
    void* base = nullptr;
    if (MPI_Win_shared_query(w.win, static_cast<int>(place.rank), &bytes, &unit, &base) != MPI_SUCCESS) return nullptr;
    return static_cast<float*>(base) + place.offset;
  }
  return nullptr;
}

void sync_node_windows() {
  std::lock_guard<std::mutex> lock(registry().mutex);
  for (const Window& w : registry().windows) MPI_Win_sync(w.win);
}

}  // namespace spmd::collectives::mpi
