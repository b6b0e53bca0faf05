// Reading events from hot standbys: the WAL-position marks, the health rule, the watch and
// the router, against an in-memory primary and standby whose replay the test drives.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "orchestrator/common/errors.h"
#include "orchestrator/reading/standby_router.h"
#include "orchestrator/reading/standby_watch.h"
#include "orchestrator/reading/wal_marks.h"
#include "tests/support/fake_clock.h"

namespace projd {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

WalPosition At(std::uint64_t lsn, std::uint32_t timeline = 1) { return WalPosition{lsn, timeline, "sys"}; }

// The events of one stream as the primary committed them: each with its commit's WAL end.
struct Stream {
  struct Row {
    std::int64_t position;
    int partition;
    std::uint64_t commit_lsn;
  };
  std::vector<Row> rows;  // any order of commit

  // Events visible to a server that replayed WAL up to `replayed`, read like PgEventReader.
  ReadResult Read(const ReadRequest& request, std::uint64_t replayed) const {
    std::map<std::int64_t, const Row*> visible;
    for (const auto& r : rows) {
      if (r.commit_lsn <= replayed) visible[r.position] = &r;
    }
    ReadResult out;
    out.scanned_to = request.high_water_mark;
    for (const auto& [position, r] : visible) {
      if (position > request.high_water_mark) break;
      const auto it = request.after.find(r->partition);
      if (it == request.after.end() || position <= it->second) continue;
      EventWithPartition e;
      e.event.global_position = position;
      e.partition = r->partition;
      out.events.push_back(e);
      if (static_cast<int>(out.events.size()) == request.limit) {
        out.scanned_to = position;
        break;
      }
    }
    return out;
  }
};

constexpr std::uint64_t kEverything = ~std::uint64_t{0};

class PrimaryReader final : public EventReader {
 public:
  explicit PrimaryReader(const Stream& s) : stream_(s) {}
  ReadResult ReadBatch(const ReadRequest& request) override {
    ++reads;
    return stream_.Read(request, kEverything);
  }
  int reads = 0;

 private:
  const Stream& stream_;
};

class FakeStandby final : public StandbySession {
 public:
  explicit FakeStandby(const Stream& s) : stream_(s) {}
  StandbyFacts Replayed() override {
    if (down) throw TransientError("standby unreachable");
    if (session_ == 0) session_ = 1;
    ++probes;
    return StandbyFacts{in_recovery, At(replayed, timeline)};
  }
  std::uint64_t Session() const override { return session_; }
  ReadResult ReadBatch(const ReadRequest& request) override {
    if (down) throw TransientError("standby unreachable");
    if (reconnect_on_read) ++session_;
    ++reads;
    return stream_.Read(request, replayed);
  }

  std::uint64_t replayed = 0;
  std::uint32_t timeline = 1;
  bool in_recovery = true;
  bool down = false;
  bool reconnect_on_read = false;
  int reads = 0;
  int probes = 0;

 private:
  const Stream& stream_;
  std::uint64_t session_ = 0;
};

struct Fixture {
  Stream stream;
  WalMarks marks;
  StandbyBoard board{{"standby-a:5432"}};
  FakeClock clock;
  PrimaryReader* primary = nullptr;
  FakeStandby* standby = nullptr;
  std::vector<milliseconds> sleeps;
  std::function<void()> on_sleep;

  std::unique_ptr<StandbyRouter> Router(bool fallback_to_primary = true) {
    auto p = std::make_unique<PrimaryReader>(stream);
    primary = p.get();
    auto s = std::make_unique<FakeStandby>(stream);
    standby = s.get();
    std::vector<std::unique_ptr<StandbySession>> standbys;
    standbys.push_back(std::move(s));
    StandbyRouterOptions o;
    o.fallback_to_primary = fallback_to_primary;
    return std::make_unique<StandbyRouter>(std::move(p), std::move(standbys), marks, board, clock,
                                           [this](milliseconds d) {
                                             sleeps.push_back(d);
                                             clock.Advance(d);
                                             if (on_sleep) on_sleep();
                                           },
                                           o);
  }
  void Usable() { board.Probed(0, StandbyCondition::kUsable, StandbyFacts{true, At(standby->replayed)}, 0, {}, ""); }
};

ReadRequest AllOf(int partitions, std::int64_t mark, int limit = 100) {
  ReadRequest r;
  r.partition_count = partitions;
  for (int p = 0; p < partitions; ++p) r.after[p] = 0;
  r.high_water_mark = mark;
  r.limit = limit;
  return r;
}

}  // namespace

TEST_CASE("a mark is served by a standby only once it replayed the WAL position recorded with it", "[standby]") {
  WalMarks marks;
  const auto t = Clock::Monotonic::time_point{};
  CHECK(marks.MarkServedBy(At(1000)) == 0);
  marks.Record(10, At(100), t);
  marks.Record(20, At(200), t);
  marks.Record(20, At(250), t);
  marks.Record(30, At(300), t);
  CHECK(marks.MarkServedBy(At(99)) == 0);
  CHECK(marks.MarkServedBy(At(100)) == 10);
  CHECK(marks.MarkServedBy(At(299)) == 20);
  CHECK(marks.MarkServedBy(At(5000)) == 30);
  CHECK(marks.MarkServedBy(At(5000, 2)) == 0);  // another timeline: LSNs do not compare
  CHECK(marks.MarkServedBy(WalPosition{5000, 1, "other"}) == 0);
  marks.Record(30, At(280), t);  // an earlier WAL position for the same mark: ignored
  CHECK(marks.MarkServedBy(At(290)) == 20);
  marks.Record(5, At(400), t);  // the events history started over: forget the old marks
  CHECK(marks.MarkServedBy(At(350)) == 0);
  CHECK(marks.MarkServedBy(At(400)) == 5);
  marks.Record(40, At(500, 2), t);  // the primary's timeline changed
  CHECK(marks.MarkServedBy(At(600, 1)) == 0);
  CHECK(marks.MarkServedBy(At(600, 2)) == 40);
}

TEST_CASE("thinning the marks keeps every answer safe and covering", "[standby]") {
  WalMarks marks(64);
  const auto t = Clock::Monotonic::time_point{};
  for (int i = 1; i <= 10000; ++i) marks.Record(i, At(static_cast<std::uint64_t>(i) * 10), t);
  CHECK(marks.size() <= 64);
  std::int64_t last = 0;
  for (std::uint64_t lsn = 0; lsn <= 100000; lsn += 37) {
    const auto served = marks.MarkServedBy(At(lsn));
    CHECK(served <= static_cast<std::int64_t>(lsn / 10));  // never a mark it has not replayed
    CHECK(served >= last);
    last = served;
  }
  CHECK(marks.MarkServedBy(At(100000)) == 10000);
}

TEST_CASE("a standby's lag in seconds is how long ago the primary had WAL it has not replayed", "[standby]") {
  WalMarks marks;
  const auto t0 = Clock::Monotonic::time_point{} + std::chrono::hours(1);
  marks.Record(10, At(100), t0);
  marks.Record(20, At(200), t0 + std::chrono::seconds(3));
  marks.Record(30, At(300), t0 + std::chrono::seconds(5));
  const auto now = t0 + std::chrono::seconds(10);
  CHECK(marks.LagBehind(300, now) == milliseconds(0));
  CHECK(marks.LagBehind(250, now) == milliseconds(5000));
  CHECK(marks.LagBehind(150, now) == milliseconds(7000));
  CHECK(marks.LagBehind(0, now) == milliseconds(10000));
}

TEST_CASE("the standby health rule", "[standby]") {
  const auto primary = std::optional<WalPosition>(At(500));
  const auto max = milliseconds(10000);
  const StandbyFacts healthy{true, At(400)};
  CHECK(AssessStandby(healthy, primary, milliseconds(50), max) == StandbyCondition::kUsable);
  CHECK(AssessStandby(std::nullopt, primary, {}, max) == StandbyCondition::kDown);
  CHECK(AssessStandby(StandbyFacts{false, At(400)}, primary, {}, max) == StandbyCondition::kPromoted);
  CHECK(AssessStandby(StandbyFacts{true, At(400, 2)}, primary, {}, max) == StandbyCondition::kOtherHistory);
  CHECK(AssessStandby(healthy, std::nullopt, {}, max) == StandbyCondition::kPrimaryUnknown);
  CHECK(AssessStandby(healthy, primary, milliseconds(10001), max) == StandbyCondition::kLagging);
}

TEST_CASE("the router reads from a standby that replayed the mark and never touches the primary", "[standby]") {
  Fixture f;
  auto router = f.Router();
  for (int i = 1; i <= 5; ++i) f.stream.rows.push_back({i, i % 2, static_cast<std::uint64_t>(i) * 10});
  f.marks.Record(5, At(50), f.clock.Now());
  f.standby->replayed = 50;
  f.Usable();
  const auto r = router->ReadBatch(AllOf(2, 5));
  CHECK(r.events.size() == 5);
  CHECK(r.scanned_to == 5);
  CHECK(f.primary->reads == 0);
  CHECK(f.board.Figures().standbys[0].batches == 1);
}

TEST_CASE("a standby behind the mark serves only the marks it replayed, and never skips", "[standby]") {
  Fixture f;
  auto router = f.Router();
  // Position 3 commits last (its writer was slow): the mark 2 is proven at WAL 20, mark 5 at 60.
  f.stream.rows = {{1, 0, 10}, {2, 0, 20}, {4, 0, 30}, {5, 0, 40}, {3, 0, 55}};
  f.marks.Record(2, At(20), f.clock.Now());
  f.marks.Record(5, At(60), f.clock.Now());
  f.standby->replayed = 45;  // 4 and 5 are visible there, 3 is not
  f.Usable();
  auto r = router->ReadBatch(AllOf(1, 5));
  REQUIRE(r.events.size() == 2);
  CHECK(r.events.back().event.global_position == 2);
  CHECK(r.scanned_to == 2);  // a naive read up to 5 would have passed 3
  f.standby->replayed = 60;
  auto request = AllOf(1, 5);
  request.after[0] = 2;
  r = router->ReadBatch(request);
  REQUIRE(r.events.size() == 3);
  CHECK(r.events[0].event.global_position == 3);
  CHECK(f.primary->reads == 0);
}

TEST_CASE("a read waits a bounded time for a standby that has not replayed anything new", "[standby]") {
  Fixture f;
  auto router = f.Router();
  f.stream.rows = {{1, 0, 10}, {2, 0, 20}};
  f.marks.Record(1, At(10), f.clock.Now());
  f.marks.Record(2, At(20), f.clock.Now());
  f.standby->replayed = 10;
  f.Usable();
  auto request = AllOf(1, 2);
  request.after[0] = 1;
  SECTION("still behind after the slice: nothing read, nothing moved, the primary untouched") {
    const auto r = router->ReadBatch(request);
    CHECK(r.events.empty());
    CHECK(r.scanned_to == 1);
    CHECK(f.primary->reads == 0);
    CHECK(f.board.Figures().waits == 1);
    milliseconds slept{0};
    for (auto d : f.sleeps) slept += d;
    CHECK(slept >= milliseconds(200));
    CHECK(slept <= milliseconds(230));
  }
  SECTION("replayed during the wait: read at once") {
    f.on_sleep = [&] { f.standby->replayed = 20; };
    const auto r = router->ReadBatch(request);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].event.global_position == 2);
    CHECK(f.sleeps.size() == 1);
  }
}

TEST_CASE("a standby that fails a read is skipped until the watch finds it healthy again", "[standby]") {
  Fixture f;
  auto router = f.Router();
  f.stream.rows = {{1, 0, 10}};
  f.marks.Record(1, At(10), f.clock.Now());
  f.standby->replayed = 10;
  f.Usable();
  f.standby->down = true;
  auto r = router->ReadBatch(AllOf(1, 1));
  CHECK(r.events.size() == 1);  // from the primary, in the same call
  CHECK(f.primary->reads == 1);
  CHECK_FALSE(f.board.Usable(0));
  CHECK(f.board.Figures().standbys[0].read_errors == 1);
  f.standby->down = false;
  router->ReadBatch(AllOf(1, 1));
  CHECK(f.primary->reads == 2);  // still skipped: no probe since the failure
  f.Usable();
  router->ReadBatch(AllOf(1, 1));
  CHECK(f.primary->reads == 2);
  CHECK(f.standby->reads == 1);
}

TEST_CASE("a read on another session than the replay position was read on is not used", "[standby]") {
  Fixture f;
  auto router = f.Router();
  f.stream.rows = {{1, 0, 10}};
  f.marks.Record(1, At(10), f.clock.Now());
  f.standby->replayed = 10;
  f.Usable();
  f.standby->reconnect_on_read = true;
  const auto r = router->ReadBatch(AllOf(1, 1));
  CHECK(r.events.size() == 1);
  CHECK(f.primary->reads == 1);
  CHECK(f.board.Figures().standbys[0].batches == 0);
}

TEST_CASE("with STANDBY_FALLBACK=wait no event is read from the primary", "[standby]") {
  Fixture f;
  auto router = f.Router(false);
  f.stream.rows = {{1, 0, 10}};
  f.marks.Record(1, At(10), f.clock.Now());
  f.board.Probed(0, StandbyCondition::kDown, std::nullopt, 0, {}, "refused");
  const auto r = router->ReadBatch(AllOf(1, 1));
  CHECK(r.events.empty());
  CHECK(r.scanned_to == 0);
  CHECK(f.primary->reads == 0);
  CHECK(f.board.Figures().waits == 1);
  CHECK(f.sleeps.size() == 1);
}

TEST_CASE("a promoted standby serves nothing, even before the watch notices: the primary serves", "[standby]") {
  Fixture f;
  auto router = f.Router();
  f.stream.rows = {{1, 0, 10}};
  f.marks.Record(1, At(10), f.clock.Now());
  f.standby->replayed = 10;
  f.Usable();
  f.standby->in_recovery = false;
  const auto r = router->ReadBatch(AllOf(1, 1));
  CHECK(r.events.size() == 1);  // from the primary, at once
  CHECK(f.primary->reads == 1);
  CHECK(f.standby->reads == 0);
  CHECK_FALSE(f.board.Usable(0));
}

TEST_CASE("random commit orders and replay progress: every event exactly once, in order", "[standby]") {
  std::mt19937 rng(Catch::rngSeed() + 7);
  for (int round = 0; round < 50; ++round) {
    Fixture f;
    auto router = f.Router();
    const int n = 300, partitions = 4;
    // Positions handed out in order, committed in a shuffled order; some never commit.
    std::vector<std::int64_t> order(n);
    for (int i = 0; i < n; ++i) order[i] = i + 1;
    std::shuffle(order.begin(), order.end(), rng);
    std::set<std::int64_t> rolled_back;
    std::uint64_t lsn = 0;
    std::map<std::int64_t, std::uint64_t> commit_of;
    for (auto p : order) {
      lsn += 1 + rng() % 5;
      if (rng() % 20 == 0) {
        rolled_back.insert(p);
        continue;
      }
      commit_of[p] = lsn;
      f.stream.rows.push_back({p, static_cast<int>(p % partitions), lsn});
    }
    // Proven marks: H is final once every position <= H is committed or rolled back; the
    // WAL position read after the proof is at or past every such commit.
    std::vector<std::pair<std::int64_t, std::uint64_t>> proofs;
    std::uint64_t wal = 0;
    for (std::int64_t h = 1; h <= n; ++h) {
      if (commit_of.count(h)) wal = std::max(wal, commit_of[h]);
      if (rng() % 7 == 0 || h == n) proofs.push_back({h, wal + rng() % 3});
    }
    std::uint64_t recorded_wal = 0;
    for (auto& [h, w] : proofs) {
      recorded_wal = std::max(recorded_wal, w);
      f.marks.Record(h, At(recorded_wal), f.clock.Now());
    }
    f.standby->replayed = 0;
    f.Usable();
    f.on_sleep = [&] { f.standby->replayed += 1 + rng() % 40; };
    auto request = AllOf(partitions, n, 7);
    std::vector<std::int64_t> seen;
    for (int guard = 0; guard < 10000; ++guard) {
      std::int64_t lowest = n;
      for (auto& [p, a] : request.after) lowest = std::min(lowest, a);
      if (lowest >= n) break;
      const auto r = router->ReadBatch(request);
      for (const auto& e : r.events) {
        CHECK(e.event.global_position > request.after[e.partition]);
        request.after[e.partition] = e.event.global_position;
        seen.push_back(e.event.global_position);
      }
      for (auto& [p, a] : request.after) a = std::max(a, r.scanned_to);
      if (r.events.empty()) f.standby->replayed += 1 + rng() % 40;
    }
    std::vector<std::int64_t> expected;
    for (auto& [p, l] : commit_of) expected.push_back(p);
    std::sort(seen.begin(), seen.end());
    REQUIRE(seen == expected);
    CHECK(f.primary->reads == 0);
  }
}

TEST_CASE("the watch marks standbys usable, lagging, promoted, on another history or down", "[standby]") {
  struct ScriptedProbe final : StandbyProbe {
    std::optional<StandbyFacts> facts;
    StandbyFacts Probe() override {
      if (!facts) throw TransientError("connection refused");
      return *facts;
    }
  };
  WalMarks marks;
  StandbyBoard board{{"a:1"}};
  FakeClock clock;
  auto probe = std::make_unique<ScriptedProbe>();
  auto* p = probe.get();
  std::vector<std::unique_ptr<StandbyProbe>> probes;
  probes.push_back(std::move(probe));
  StandbyWatch watch(std::move(probes), marks, board, clock, Logger("test", "off", LogFormat::kText), milliseconds(10000));
  p->facts = StandbyFacts{true, At(100)};
  watch.Round();
  CHECK(board.Figures().standbys[0].condition == StandbyCondition::kPrimaryUnknown);
  marks.Record(5, At(100), clock.Now());
  watch.Round();
  CHECK(board.Usable(0));
  marks.Record(9, At(300), clock.Now());
  clock.Advance(milliseconds(10001));
  watch.Round();
  auto s = board.Figures().standbys[0];
  CHECK(s.condition == StandbyCondition::kLagging);
  CHECK(s.lag_bytes == 200);
  CHECK(s.lag == milliseconds(10001));
  p->facts = StandbyFacts{true, At(300)};
  watch.Round();
  CHECK(board.Usable(0));
  CHECK(board.Figures().standbys[0].lag_bytes == 0);
  p->facts = StandbyFacts{true, At(300, 2)};
  watch.Round();
  CHECK(board.Figures().standbys[0].condition == StandbyCondition::kOtherHistory);
  p->facts = StandbyFacts{false, At(300)};
  watch.Round();
  CHECK(board.Figures().standbys[0].condition == StandbyCondition::kPromoted);
  p->facts.reset();
  watch.Round();
  s = board.Figures().standbys[0];
  CHECK(s.condition == StandbyCondition::kDown);
  CHECK(s.last_error == "connection refused");
  CHECK(s.probe_errors == 1);
}

}  // namespace projd
