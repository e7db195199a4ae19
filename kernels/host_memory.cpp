// The host-memory defaults of Backend's buffer interface: posix_memalign and memcpy.
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/units.h"
#include "kernels/backend.h"

namespace spmd::kernels {
namespace {
// A cache line: what vector loads and oneDNN's primitives prefer.
constexpr size_t kAlignment = 64;
// A huge page of x86-64 and AArch64 (4 KiB granules).
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

// A buffer of a huge page or more is aligned to one and asked to be backed by huge pages
// (where transparent huge pages are on only for regions that ask, as Debian's kernels
// default to), as PyTorch's CPU allocator does: first touching it then faults once per 2 MiB
// rather than once per 4 KiB (on a VM, 3-4 ms per MiB: 200 ms to time a matmul on 64 MiB of
// fresh copies), and its kernels miss the TLB less. Without huge pages it is plain memory.
void* Backend::allocate(size_t bytes) {
  const bool huge = bytes >= kHugePage;
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : kAlignment, std::max<size_t>(bytes, 1)) != 0) {
    throw Error("cannot allocate " + bytes_text(bytes) + " of host memory for the " + std::string(name()) + " backend");
  }
  // A hint: refused, the pages are small ones; a last partial huge page stays small.
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void Backend::release(void* buffer) noexcept { std::free(buffer); }

void Backend::copy_in(void* backend_dst, const void* host_src, size_t bytes) {
  if (bytes) std::memcpy(backend_dst, host_src, bytes);
}

void Backend::copy_out(void* host_dst, const void* backend_src, size_t bytes) {
  if (bytes) std::memcpy(host_dst, backend_src, bytes);
}

void Backend::copy_within(void* dst, const void* src, size_t bytes) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
}

}  // namespace spmd::kernels
