// Where a host backend puts a buffer (kernels/backend.h): a program's arena from 256 KiB on
// in whole huge pages, as the collectives' own buffers are, since copies between ranks go page
// by page; a value of its own only from one whole huge page on, so that no memory is lost.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "common/host_memory.h"
#include "kernels/backend.h"

namespace spmd::kernels {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(HostBuffers, AnArenaFrom256KiBStartsOnAHugePageAndAValueOnlyFromOneWholeHugePage) {
  auto backend = make_cpu_backend();
  const BackendBuffer arena(*backend, kTransferHugeFrom, BufferUse::arena);
  EXPECT_EQ(address(arena.get()) % kHugePage, 0u);
  std::memset(arena.get(), 0, kTransferHugeFrom);  // all of it is there to write
  const BackendBuffer small_arena(*backend, 1000, BufferUse::arena);
  EXPECT_EQ(address(small_arena.get()) % 64, 0u);
  const BackendBuffer value(*backend, kTransferHugeFrom);
  EXPECT_EQ(address(value.get()) % 64, 0u);
  const BackendBuffer whole_value(*backend, kHugePage);
  EXPECT_EQ(address(whole_value.get()) % kHugePage, 0u);
}

}  // namespace
}  // namespace spmd::kernels
