#include <catch2/catch.hpp>

#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/persistence/persistence_pressure.h"
#include "tests/support/fake_checkpoint_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::AssessPressure;
using projd::Checkpoint;
using projd::CheckpointKey;
using projd::PersistenceCore;
using projd::PersistenceOptions;
using projd::PressureAction;
using projd::PressureLimits;
using projd::PressureReading;

namespace {
Checkpoint Cp(int partition, std::int64_t position) { return {{"rs", "p", partition}, position, 1, "w1"}; }

// An interval no test reaches: every flush seen here was triggered by the work.
PersistenceOptions NoTimer() {
  PersistenceOptions o;
  o.interval = 1h;
  o.timeout = 200ms;
  o.max_batch_size = 100;
  o.max_pending = 1000;
  o.max_lag_events = 1000;
  o.max_lag_time = 10s;
  return o;
}
}  // namespace

TEST_CASE("pressure: coalesce below half the limits, flush past half, pause past the limits",
          "[persistence][backpressure]") {
  const PressureLimits l{1000, 10s, 100};
  CHECK(AssessPressure({0, 0ms, 0}, l) == PressureAction::kNone);
  CHECK(AssessPressure({500, 0ms, 10, 500}, l) == PressureAction::kNone);
  CHECK(AssessPressure({501, 0ms, 10, 501}, l) == PressureAction::kFlush);
  // A flush in flight covers all but 10 of the 900: no second flush yet.
  CHECK(AssessPressure({900, 0ms, 10, 10}, l) == PressureAction::kNone);
  CHECK(AssessPressure({10, 0ms, 50}, l) == PressureAction::kFlush);
  CHECK(AssessPressure({1001, 0ms, 10}, l) == PressureAction::kPause);
  CHECK(AssessPressure({10, 11s, 10}, l) == PressureAction::kPause);
  CHECK(AssessPressure({10, 0ms, 100}, l) == PressureAction::kPause);
}

TEST_CASE("a submit past half the lag limit flushes at once, without the interval", "[persistence][backpressure]") {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
  PersistenceCore core(store, clock, NoTimer());
  core.Start();
  for (int p = 0; p < 64; ++p) core.Submit(Cp(p, 400));
  CHECK(core.GetStats().pending_count == 64);  // below half the limit: coalescing goes on
  const auto ticket = core.Submit(Cp(3, 501)).ticket;
  CHECK(ticket->Wait(10s) == projd::Durability::kDurable);  // the fake clock never moved
  CHECK(projd::testing::WaitFor([&] { return core.GetStats().pending_count == 0; }, 10s));
  CHECK(store.Row({"rs", "p", 63})->position == 400);  // the whole pending set went with it
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kLag, projd::FlushOutcome::kSuccess) >= 1);
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess) == 0);
}

TEST_CASE("a runner that would pause for checkpoint lag gets a flush instead of a timer",
          "[persistence][backpressure]") {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
  PersistenceCore core(store, clock, NoTimer());
  core.Start();
  // A runner moving 64 partitions 100 events per batch over 100,000 events: a hundred
  // times the lag limit, with a timer that never fires.
  int paused = 0;
  for (std::int64_t position = 100; position <= 100000; position += 100) {
    while (core.ShouldPause()) {
      ++paused;
      REQUIRE(projd::testing::WaitFor([&] { return !core.ShouldPause(); }, 10s));
    }
    for (int p = 0; p < 64; ++p) REQUIRE(core.Submit(Cp(p, position)).ok());
  }
  CHECK(core.ForcePersistence(10s) == projd::ForceResult::kOk);
  CHECK(store.Row({"rs", "p", 0})->position == 100000);
  const auto s = core.GetStats();
  CHECK(s.flushes.Count(projd::Trigger::kLag, projd::FlushOutcome::kSuccess) >= 100000 / 1000);  // the work, not the timer, flushed
  CHECK(s.flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess) == 0);
  INFO("pauses: " << paused);
}

namespace {
// Holds every WriteBatch until the test opens the gate.
class GatedStore final : public projd::CheckpointStore {
 public:
  explicit GatedStore(projd::CheckpointStore& inner) : inner_(inner) {}
  projd::WriteOutcome WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    lock.unlock();
    return inner_.WriteBatch(batch, timeout);
  }
  projd::UnitOutcome CommitUnit(const projd::TransactionalUnit& unit, std::chrono::milliseconds timeout) override {
    return inner_.CommitUnit(unit, timeout);
  }
  projd::StampResult Stamp(const std::string& rs, const std::vector<std::string>& projections,
                           const std::vector<int>& partitions, std::int64_t generation,
                           const std::string& writer) override {
    return inner_.Stamp(rs, projections, partitions, generation, writer);
  }
  std::vector<Checkpoint> Read(const std::string& rs, const std::string& projection) override {
    return inner_.Read(rs, projection);
  }
  bool WaitEntered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  projd::CheckpointStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};
}  // namespace

TEST_CASE("submits during a lag flush do not queue another flush for the lag it already covers",
          "[persistence][backpressure]") {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore fake{&clock};
  GatedStore store(fake);
  PersistenceCore core(store, clock, NoTimer());
  core.Start();
  for (int p = 0; p < 64; ++p) core.Submit(Cp(p, 400));  // below half of 1000: coalescing
  core.Submit(Cp(0, 600));  // past half: a lag flush of all 64 keys
  REQUIRE(store.WaitEntered(1));
  // While it is written, the runner moves on to 700 (durable is still 0: lag 700, but at
  // most 300 beyond the write in flight).
  for (int p = 0; p < 64; ++p) core.Submit(Cp(p, 700));
  store.Open();
  REQUIRE(projd::testing::WaitFor([&] { return fake.Row({"rs", "p", 63}).has_value(); }, 10s));
  REQUIRE(projd::testing::WaitFor([&] { return core.GetStats().flushes.Count(projd::Trigger::kLag, projd::FlushOutcome::kSuccess) == 1; }, 10s));
  CHECK(core.GetStats().pending_count == 64);  // 700 waits for its own trigger
  CHECK(core.ShouldPause() == false);
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kLag, projd::FlushOutcome::kSuccess) == 1);
  // 501 beyond the durable 600 triggers the next one.
  core.Submit(Cp(0, 1101));
  REQUIRE(projd::testing::WaitFor([&] { return core.GetStats().pending_count == 0; }, 10s));
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kLag, projd::FlushOutcome::kSuccess) == 2);
}
