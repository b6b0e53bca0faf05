#include <catch2/catch.hpp>

#include "orchestrator/reading/partitioning.h"

using projd::Fnv1a32;
using projd::PartitionOf;

TEST_CASE("FNV-1a-32 matches the reference vectors", "[partitioning]") {
  CHECK(Fnv1a32("") == 0x811c9dc5u);
  CHECK(Fnv1a32("a") == 0xe40c292cu);
  CHECK(Fnv1a32("agg-000") == 0x51a0a6afu);
  CHECK(Fnv1a32("user-alice") == 0x9e72e89fu);
  CHECK(Fnv1a32("order-123") == 0xa508cf1au);
  CHECK(Fnv1a32("550e8400-e29b-41d4-a716-446655440000") == 0x889e3528u);
}

TEST_CASE("partitions are the hash modulo the partition count", "[partitioning]") {
  CHECK(PartitionOf("user-alice", 4) == 3);
  CHECK(PartitionOf("order-123", 16) == 10);
  CHECK(PartitionOf("550e8400-e29b-41d4-a716-446655440000", 64) == 40);
}

TEST_CASE("doubling the partitions maps k to k or k+P", "[partitioning]") {
  for (int i = 0; i < 2000; ++i) {
    const std::string id = "agg-" + std::to_string(i);
    const int k = PartitionOf(id, 16);
    const int k2 = PartitionOf(id, 32);
    CHECK((k2 == k || k2 == k + 16));
  }
}
