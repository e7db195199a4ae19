// FNV-1a, 64 bits (Fowler, Noll, Vo; IETF draft-eastlake-fnv): the checksum of checkpoint
// files, of a model's printed IR and of a training corpus. Not cryptographic: it catches a
// torn or stale file, not a forged one. O(bytes), one multiply per byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spmd {

// The FNV-1a 64 offset basis: the hash of no bytes.
inline constexpr uint64_t kFnvStart = 14695981039346656037ull;

// FNV-1a 64 of `bytes`, continuing from `hash`, so a file can be hashed block by block.
inline uint64_t fnv64(const void* bytes, size_t size, uint64_t hash = kFnvStart) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
}

}  // namespace spmd
