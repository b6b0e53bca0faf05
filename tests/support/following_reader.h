// FollowingReader and the small writers the gap-proof tests share: a high-water-mark
// follower with a fake clock (GAP_GRACE passes when the test says so) plus a reader of every
// partition from a position, the way `projd read --follow` reads, one step at a time.
// Header-only, for *_pgtest.cpp files; not thread-safe.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "tests/support/fake_clock.h"
#include "tests/support/pg_test_schema.h"

namespace projd::testing {

inline constexpr const char* kInsertEvent =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
    " VALUES ('c', 't', $1, $2, 'E') RETURNING global_position";

// Inserts one event in `tx`; returns its position.
inline std::int64_t Insert(pqxx::transaction_base& tx, const std::string& id, int version) {
  return tx.exec_params1(kInsertEvent, id, version)[0].as<std::int64_t>();
}

// Inserts one event in a transaction of its own and commits it.
inline std::int64_t InsertCommitted(const PgTestSchema& db, const std::string& id, int version) {
  auto c = db.Connect();
  pqxx::work tx(*c);
  const auto p = Insert(tx, id, version);
  tx.commit();
  return p;
}

struct FollowingReader {
  explicit FollowingReader(const PgTestSchema& db, std::int64_t from = 0,
                           std::int64_t window = HighWaterMarkFollower::kDefaultWindow)
      : source(db.options()),
        follower(source, clock, std::chrono::milliseconds(200), from, window),
        reader(db.options()),
        after(from) {}

  // One round: advance H, then read everything up to it.
  void Step() {
    REQUIRE(follower.Advance());
    while (true) {
      ReadRequest request;
      request.partition_count = 1;
      request.after = {{0, after}};
      request.high_water_mark = follower.mark();
      request.limit = 100;
      const auto batch = reader.ReadBatch(request);
      for (const auto& e : batch.events) delivered.push_back(e.event.global_position);
      after = std::max(after, batch.scanned_to);
      if (batch.events.size() < 100) return;
    }
  }
  // Steps past the grace a few times: any proof that can complete, completes.
  void StepsPastGrace() {
    for (int i = 0; i < 4; ++i) {
      clock.Advance(std::chrono::seconds(1));
      Step();
    }
  }

  FakeClock clock;
  pg::PgPositionSource source;
  HighWaterMarkFollower follower;
  pg::PgEventReader reader;
  std::int64_t after;
  std::vector<std::int64_t> delivered;
};

// Joins its thread when it goes out of scope, also when a check failed. Declare it before
// the transaction the thread waits for, so that one ends first.
struct Joined {
  std::thread thread;
  ~Joined() {
    if (thread.joinable()) thread.join();
  }
};

}  // namespace projd::testing
