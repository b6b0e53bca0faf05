// Virtual partitions of the event stream (design section 3).
//
// partition = FNV-1a-32(aggregate_id bytes) mod partition_count: the hash pupsourcing
// uses, so per-aggregate routing agrees with Go consumers. The SQL function in
// migrations/ computes the same value. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace projd {

// FNV-1a, 32-bit: offset basis 2166136261, prime 16777619, xor then multiply.
constexpr std::uint32_t Fnv1a32(std::string_view bytes) {
  std::uint32_t hash = 2166136261u;
  for (char c : bytes) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

// The partition of `aggregate_id` among `partition_count` (> 0) partitions.
constexpr int PartitionOf(std::string_view aggregate_id, int partition_count) {
  return static_cast<int>(Fnv1a32(aggregate_id) % static_cast<std::uint32_t>(partition_count));
}

}  // namespace projd
