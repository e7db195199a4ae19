// The host-memory defaults of Backend's buffer interface: allocate_host
// (common/host_memory.h), for values and for a program's arena, and memcpy.
#include <cstring>
#include <string>

#include "common/error.h"
#include "common/host_memory.h"
#include "common/units.h"
#include "kernels/backend.h"

namespace spmd::kernels {

// A program's values in huge pages from 2 MiB on, and no memory lost to rounding
// (common/host_memory.h says why huge pages).
void* Backend::allocate(size_t bytes) {
  try {
    return allocate_host(bytes, HugePages::whole);
  } catch (const Error&) {
    throw Error("cannot allocate " + bytes_text(static_cast<double>(bytes)) + " of host memory for the " +
                std::string(name()) + " backend");
  }
}

void* Backend::allocate_arena(size_t bytes) {
  if (device_memory()) return allocate(bytes);
  try {
    return allocate_host(bytes, HugePages::rounded);
  } catch (const Error&) {
    throw Error("cannot allocate " + bytes_text(static_cast<double>(bytes)) + " of host memory for the " +
                std::string(name()) + " backend's arena");
  }
}

void Backend::release(void* buffer) noexcept { HostFree{}(buffer); }

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
