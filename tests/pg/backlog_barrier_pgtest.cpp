// The backlog barrier against real transactions (docs/reading.md, "A backlog proven at
// once"): a backlog of more than one window is proven without visiting it, yet a writer that
// was open inside it is still waited for, and one that started later is not.
#include <catch2/catch.hpp>

#include "tests/support/following_reader.h"
#include "tests/support/pg_test_schema.h"

using projd::testing::FollowingReader;
using projd::testing::Insert;
using projd::testing::InsertCommitted;
using projd::testing::PgTestSchema;

namespace {
constexpr std::int64_t kWindow = 10;

std::vector<std::int64_t> Range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (auto p = from; p <= to; ++p) out.push_back(p);
  return out;
}
}  // namespace

TEST_CASE("a backlog barrier waits for a writer open inside the backlog, not for later ones", "[pg][hwm][barrier]") {
  PgTestSchema db;
  auto slow_conn = db.Connect();
  pqxx::work slow(*slow_conn);
  const auto held = Insert(slow, "slow", 1);  // 1, open
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    for (int i = 1; i <= 50; ++i) Insert(tx, "fast", i);  // 2..51
    tx.commit();
  }
  FollowingReader follow(db, 0, kWindow);
  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() < held);
  CHECK(follow.delivered.empty());
  CHECK(follow.follower.Status().barrier_raises == 0);

  // A writer that starts after the barrier began cannot hold a position of the backlog.
  auto late_conn = db.Connect();
  pqxx::work late(*late_conn);
  const auto late_position = Insert(late, "late", 1);  // 52, open
  slow.commit();
  follow.Step();
  CHECK(follow.follower.Status().barrier_raises == 1);
  CHECK(follow.follower.mark() == late_position - 1);
  CHECK(follow.delivered == Range(1, 51));  // the slow writer's event included
  late.commit();
  follow.Step();
  CHECK(follow.delivered == Range(1, late_position));
}

TEST_CASE("a rolled-back position inside a backlog is passed by the barrier without the grace", "[pg][hwm][barrier]") {
  PgTestSchema db;
  for (int i = 1; i <= 20; ++i) InsertCommitted(db, "a", i);  // 1..20
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    Insert(tx, "gone", 1);  // 21, rolled back
    tx.abort();
  }
  for (int i = 21; i <= 40; ++i) InsertCommitted(db, "a", i);  // 22..41
  FollowingReader follow(db, 0, kWindow);
  follow.Step();  // no clock advance: the grace has not passed
  CHECK(follow.follower.mark() == 41);
  CHECK(follow.follower.Status().barrier_raises == 1);
  auto expected = Range(1, 41);
  expected.erase(expected.begin() + 20);
  CHECK(follow.delivered == expected);
  // Stored at once: a restart starts there.
  CHECK(db.Scalar<std::int64_t>("SELECT mark FROM projd_proven_marks") == 41);
}
