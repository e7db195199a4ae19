#include "common/host_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace spmd {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

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

TEST(HostMemory, ZeroBytesIsStillABufferToFree) {
  HostFloats none(static_cast<float*>(allocate_host(0, HugePages::rounded)));
  EXPECT_NE(none.get(), nullptr);
}

}  // namespace
}  // namespace spmd
