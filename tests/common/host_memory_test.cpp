#include "common/host_memory.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace spmd {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Whether the page at `p` is part of a transparent huge page (the kernel's
// Documentation/admin-guide/mm/pagemap.rst: the frame from /proc/self/pagemap, its flags
// from /proc/kpageflags, KPF_THP = bit 22); nullopt where those cannot be read (not root).
std::optional<bool> on_huge_page(const void* p) {
  std::uint64_t entry = 0, bits = 0;
  const int pagemap = open("/proc/self/pagemap", O_RDONLY);
  const bool mapped = pagemap >= 0 && pread(pagemap, &entry, 8, static_cast<off_t>(address(p) / 4096 * 8)) == 8;
  if (pagemap >= 0) close(pagemap);
  const std::uint64_t frame = entry & ((std::uint64_t{1} << 55) - 1);  // 0 where not privileged
  if (!mapped || frame == 0) return std::nullopt;
  const int flags = open("/proc/kpageflags", O_RDONLY);
  const bool read = flags >= 0 && pread(flags, &bits, 8, static_cast<off_t>(frame * 8)) == 8;
  if (flags >= 0) close(flags);
  if (!read) return std::nullopt;
  return (bits >> 22) & 1;
}

bool transparent_huge_pages_off() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return !std::getline(enabled, modes) || modes.find("[never]") != std::string::npos;
}

TEST(HostMemory, TransferBuffersFrom256KiBStartOnAHugePageAndSmallerOnesOnACacheLine) {
  const HostFloats small = host_floats(1000, HugePages::rounded);
  EXPECT_EQ(address(small.get()) % 64, 0u);
  const HostFloats large = host_floats(kTransferHugeFrom / sizeof(float), HugePages::rounded);
  EXPECT_EQ(address(large.get()) % kHugePage, 0u);
  std::memset(large.get(), 0, kTransferHugeFrom);  // all of it is there to write
}

TEST(HostMemory, ProgramBuffersGetHugePagesOnlyFromOneWholeHugePage) {
  HostFloats below(static_cast<float*>(allocate_host(kHugePage - 4, HugePages::whole)));
  EXPECT_EQ(address(below.get()) % 64, 0u);
  HostFloats whole(static_cast<float*>(allocate_host(kHugePage + 4, HugePages::whole)));
  EXPECT_EQ(address(whole.get()) % kHugePage, 0u);
  std::memset(whole.get(), 0, kHugePage + 4);
}

// malloc hands freed memory out again already faulted in on small pages, which madvise does
// not remake: a buffer allocated after such a history got small pages, and collectives
// from it ran 2x slower (common/host_memory.cpp).
TEST(HostMemory, TransferBuffersGetHugePagesWhateverWasAllocatedAndFreedBefore) {
  if (transparent_huge_pages_off()) GTEST_SKIP() << "transparent huge pages are off on this machine";
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under AddressSanitizer huge buffers come from its allocator, for its redzones";
#endif
  for (int round = 0; round < 3; ++round) {
    {  // before: large buffers, and malloc's own small ones on small pages
      std::vector<HostFloats> large;
      for (int i = 0; i < 3; ++i) {
        large.push_back(host_floats((std::size_t{64} << 20) / sizeof(float), HugePages::always));
        std::memset(large.back().get(), 1, std::size_t{64} << 20);
      }
      std::vector<std::vector<char>> small;
      for (int i = 0; i < 8; ++i) small.emplace_back(std::size_t{1} << (18 + i % 4), 1);
    }
    std::vector<HostFloats> kept;
    for (std::size_t bytes : {kTransferHugeFrom, std::size_t{1} << 20, std::size_t{4} << 20, kTransferHugeFrom}) {
      kept.push_back(host_floats(bytes / sizeof(float), HugePages::rounded));
      std::memset(kept.back().get(), 1, bytes);
      for (std::size_t offset = 0; offset < bytes; offset += kHugePage) {
        const std::optional<bool> huge = on_huge_page(reinterpret_cast<const char*>(kept.back().get()) + offset);
        if (!huge) GTEST_SKIP() << "/proc/kpageflags can be read only with CAP_SYS_ADMIN";
        EXPECT_TRUE(*huge) << "round " << round << ": " << bytes << " bytes, at offset " << offset;
      }
    }
  }
}

TEST(HostMemory, ZeroBytesIsStillABufferToFree) {
  HostFloats none(static_cast<float*>(allocate_host(0, HugePages::rounded)));
  EXPECT_NE(none.get(), nullptr);
}

}  // namespace
}  // namespace spmd
