#include "common/host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

#include "common/error.h"
#include "common/units.h"

namespace spmd {
namespace {
constexpr std::size_t kCacheLine = 64;  // what vector loads and oneDNN's primitives prefer
}  // namespace

void* allocate_host(std::size_t bytes, HugePages pages) {
  const bool rounded = pages != HugePages::whole;
  const bool huge = pages == HugePages::always || bytes >= (rounded ? kTransferHugeFrom : kHugePage);
  const std::size_t size = huge && rounded ? (bytes + kHugePage - 1) / kHugePage * kHugePage : std::max<std::size_t>(bytes, 1);
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : kCacheLine, size) != 0) {
    throw Error("cannot allocate " + bytes_text(static_cast<double>(bytes)) + " of host memory");
  }
  // A hint: refused, the pages are small ones; a last partial huge page stays small.
  if (huge) madvise(p, size, MADV_HUGEPAGE);
  return p;
}

void HostFree::operator()(void* p) const noexcept { std::free(p); }

}  // namespace spmd
