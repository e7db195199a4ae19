#include "common/host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "common/error.h"
#include "common/units.h"

namespace spmd {
namespace {

constexpr std::size_t kCacheLine = 64;  // what vector loads and oneDNN's primitives prefer
constexpr std::size_t kPage = 4096;

// Under AddressSanitizer huge buffers come from malloc too, whose redzones catch overflows.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMapHuge = false;
#else
constexpr bool kMapHuge = true;
#endif

// The mappings map_huge made, by start: what HostFree unmaps, and how much.
struct Mappings {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> bytes;
};
Mappings& mappings() {
  static Mappings m;
  return m;
}

// `size` bytes on a mapping of their own, starting on a huge page: its pages are faulted in
// fresh on first touch, as huge ones where the kernel has them. Memory malloc hands back may
// already be faulted in on small pages (what an earlier buffer left), which madvise does not
// remake: on 4 ranks here a broadcast of 256 KiB from such a buffer took 60-70 us against
// 30-33 us from a huge page, so that the same algorithm timed 2x apart in two processes
// depending on what each had allocated before. Null when the kernel refuses.
void* map_huge(std::size_t size) {
  const std::size_t length = (size + kPage - 1) / kPage * kPage;
  void* base = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  const auto b = reinterpret_cast<std::uintptr_t>(base);
  const std::uintptr_t start = (b + kHugePage - 1) / kHugePage * kHugePage;
  // The unaligned head and what is left after the buffer (a whole page at least) go back at once.
  if (start > b) munmap(base, start - b);
  munmap(reinterpret_cast<void*>(start + length), b + kHugePage - start);
  void* p = reinterpret_cast<void*>(start);
  // A hint: refused, the pages are small ones; a last partial huge page stays small.
  madvise(p, length, MADV_HUGEPAGE);
  std::lock_guard<std::mutex> lock(mappings().mutex);
  mappings().bytes[p] = length;
  return p;
}

}  // namespace

void* allocate_host(std::size_t bytes, HugePages pages) {
  const bool rounded = pages != HugePages::whole;
  const bool huge = pages == HugePages::always || bytes >= (rounded ? kTransferHugeFrom : kHugePage);
  const std::size_t size = huge && rounded ? (bytes + kHugePage - 1) / kHugePage * kHugePage : std::max<std::size_t>(bytes, 1);
  void* p = nullptr;
  if (huge && kMapHuge) {
    p = map_huge(size);
  } else if (posix_memalign(&p, huge ? kHugePage : kCacheLine, size) != 0) {
    p = nullptr;
  } else if (huge) {
    madvise(p, size, MADV_HUGEPAGE);
  }
  if (!p) throw Error("cannot allocate " + bytes_text(static_cast<double>(bytes)) + " of host memory");
  return p;
}

void HostFree::operator()(void* p) const noexcept {
  if (!p) return;
  if (kMapHuge && reinterpret_cast<std::uintptr_t>(p) % kHugePage == 0) {
    std::unique_lock<std::mutex> lock(mappings().mutex);
    if (auto it = mappings().bytes.find(p); it != mappings().bytes.end()) {
      const std::size_t length = it->second;
      mappings().bytes.erase(it);
      lock.unlock();
      munmap(p, length);
      return;
    }
  }
  std::free(p);
}

}  // namespace spmd
