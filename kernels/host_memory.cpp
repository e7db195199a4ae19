// The host-memory defaults of Backend's buffer interface: aligned operator new and memcpy.
#include <algorithm>
#include <cstring>
#include <new>

#include "common/error.h"
#include "common/units.h"
#include "kernels/backend.h"

namespace spmd::kernels {
namespace {
// A cache line: what vector loads and oneDNN's primitives prefer.
constexpr std::align_val_t kAlignment{64};
}  // namespace

void* Backend::allocate(size_t bytes) {
  try {
    return ::operator new[](std::max<size_t>(bytes, 1), kAlignment);
  } catch (const std::bad_alloc&) {
    throw Error("cannot allocate " + bytes_text(bytes) + " of host memory for the " + std::string(name()) + " backend");
  }
}

void Backend::release(void* buffer) noexcept { ::operator delete[](buffer, kAlignment); }

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
