// Host memory for buffers that kernels and transfers stream through: cache-line aligned,
// and large ones in 2 MiB huge pages, asked for with madvise (Debian's kernels give
// transparent huge pages only to regions that ask), as PyTorch's CPU allocator does. A copy
// between ranks (Open MPI's shared-memory single copy, our own memcpy) over 4 KiB pages
// misses the TLB on every page: on 2 ranks a 1 MiB all-reduce took 200-260 us on small
// pages and 85-135 us on huge ones. First touch also faults once per 2 MiB rather than once
// per 4 KiB (on a VM, 3-4 ms per MiB). Huge buffers are mappings of their own, faulted in
// fresh: memory malloc hands out again may already sit on small pages.
#pragma once

#include <cstddef>
#include <memory>

namespace spmd {

// Frees what allocate_host returned; a huge buffer's pages go back to the kernel at once.
struct HostFree {
  void operator()(void* p) const noexcept;
};

// A huge page of x86-64 and AArch64 (4 KiB granules).
inline constexpr std::size_t kHugePage = std::size_t{2} << 20;
// The size from which a transfer buffer is rounded up to whole huge pages.
inline constexpr std::size_t kTransferHugeFrom = std::size_t{256} << 10;

// Which buffers get huge pages. `whole`: from 2 MiB on, the buffer aligned to a huge page
// and no larger, so its last partial page stays small (what a program's values of their
// own use: no memory is lost). `rounded`: from kTransferHugeFrom on, rounded up to whole
// huge pages (up to 2 MiB - 1 bytes more reserved: for a program's arena and the few
// scratch and timing buffers of collectives, whose copies are what huge pages speed up).
// `always`: any size rounded up to whole huge pages (timing buffers, which stand for values
// inside a program's arena: a 128 KiB operand on small pages took an all-gather of 2 ranks
// 21 us against 11 us).
enum class HugePages { whole, rounded, always };

// `bytes` of uninitialised host memory (at least one byte), aligned to a cache line, in huge
// pages as `huge` says. Throws spmd::Error when the memory cannot be had. Cost: one
// posix_memalign, or for huge pages one mmap, up to two munmap and one madvise (and a page
// fault per huge page on first touch).
void* allocate_host(std::size_t bytes, HugePages huge);

// An array of `n` floats from allocate_host, freed with it.
using HostFloats = std::unique_ptr<float[], HostFree>;
inline HostFloats host_floats(std::size_t n, HugePages huge) {
  return HostFloats(static_cast<float*>(allocate_host(n * sizeof(float), huge)));
}

}  // namespace spmd
