#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>

#include "orchestrator/common/errors.h"
#include "orchestrator/common/log_throttle.h"
#include "orchestrator/persistence/persistence_core.h"
#include "tests/support/fake_checkpoint_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::CheckpointKey;
using projd::Durability;
using projd::FlushOutcome;
using projd::ForceResult;
using projd::PersistenceCore;
using projd::PersistenceOptions;
using projd::SubmitCode;
using projd::Trigger;
using projd::UnitResult;
using Behaviour = projd::testing::FakeCheckpointStore::Behaviour;

namespace {
CheckpointKey Key(int partition, const std::string& projection = "p") { return {"rs", projection, partition}; }
Checkpoint Cp(int partition, std::int64_t position, std::int64_t generation = 1) {
  return {Key(partition), position, generation, "w1"};
}
PersistenceOptions Options() {
  PersistenceOptions o;
  o.interval = 1s;
  o.timeout = 200ms;
  o.max_batch_size = 10;
  o.max_pending = 50;
  o.breaker_threshold = 3;
  o.breaker_timeout = 5s;
  o.max_lag_events = 1000;
  o.max_lag_time = 10s;
  o.shutdown_timeout = 2s;
  return o;
}
struct Fixture {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
};
}  // namespace

TEST_CASE("submits coalesce per key: newer generation, then higher position", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  CHECK(core.Submit(Cp(1, 10)).code == SubmitCode::kAccepted);
  CHECK(core.Submit(Cp(1, 20)).code == SubmitCode::kCoalesced);
  CHECK(core.Submit(Cp(1, 15)).code == SubmitCode::kCoalesced);  // lower position: kept 20
  CHECK(core.Submit(Cp(1, 5, 2)).code == SubmitCode::kCoalesced);  // newer generation wins
  CHECK(core.Submit(Cp(1, 99, 1)).code == SubmitCode::kRejectedStale);  // older generation dropped
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  REQUIRE(f.store.batches() == 1);
  CHECK(f.store.Row(Key(1))->position == 5);
  CHECK(f.store.Row(Key(1))->generation == 2);
  const auto s = core.GetStats();
  CHECK(s.coalesced == 3);
  CHECK(s.rejected_stale == 1);
}

TEST_CASE("100,000 submits over 10 keys within one interval become one flush of 10 rows", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  for (int i = 1; i <= 100000; ++i) REQUIRE(core.Submit(Cp(i % 10, i)).ok());
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(f.store.batches() == 1);
  CHECK(f.store.rows_written() == 10);
  CHECK(f.store.Row(Key(0))->position == 100000);
  CHECK(core.GetStats().pending_count == 0);
}

TEST_CASE("a key whose position did not change is not written again", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  const auto first = core.Submit(Cp(1, 10));
  core.FlushOnce(Trigger::kInterval);
  CHECK(first.ticket->state() == Durability::kDurable);
  const auto again = core.Submit(Cp(1, 10));
  CHECK(again.code == SubmitCode::kUnchanged);
  CHECK(again.ticket->state() == Durability::kDurable);
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kNothing);
  CHECK(f.store.batches() == 1);
}

TEST_CASE("tickets tell accepted from durable", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  const auto t10 = core.Submit(Cp(1, 10)).ticket;
  const auto t20 = core.Submit(Cp(1, 20)).ticket;
  CHECK(t10->state() == Durability::kPending);
  f.store.Script({Behaviour::kTransient});
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(t10->state() == Durability::kPending);  // a failure resolves nothing
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(t10->state() == Durability::kDurable);  // 20 durable covers 10
  CHECK(t20->state() == Durability::kDurable);
}

TEST_CASE("a failed batch merges back and newer submits win", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Submit(Cp(1, 10));
  core.Submit(Cp(2, 10));
  f.store.Script({Behaviour::kTransient});
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  core.Submit(Cp(1, 30));
  CHECK(core.GetStats().pending_count == 2);
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(f.store.Row(Key(1))->position == 30);
  CHECK(f.store.Row(Key(2))->position == 10);
  const auto s = core.GetStats();
  CHECK(s.failed_requests == 1);
  CHECK(s.successful_requests == 1);
  CHECK(s.flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kFailure) == 1);
}

TEST_CASE("committed-but-reply-lost is retried idempotently", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  const auto t = core.Submit(Cp(1, 10)).ticket;
  f.store.Script({Behaviour::kCommittedReplyLost});
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(t->state() == Durability::kPending);  // outcome unknown: not claimed durable
  CHECK(f.store.Row(Key(1))->position == 10);  // it did commit
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);  // the retry is harmless
  CHECK(f.store.Row(Key(1))->position == 10);
  CHECK(t->state() == Durability::kDurable);
}

TEST_CASE("a hanging writer is cut at the deadline and counted as a failure", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Submit(Cp(1, 10));
  f.store.Script({Behaviour::kHang});
  const auto before = f.clock.Now();
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(f.clock.Now() - before == 200ms);  // the store gave up at PERSISTENCE_TIMEOUT
  CHECK(core.GetStats().max_response_time == Approx(200.0));
  CHECK(core.GetStats().pending_count == 1);
}

TEST_CASE("the breaker opens, keeps pending work, and a probe closes it", "[persistence][breaker]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  for (int p = 0; p < 5; ++p) core.Submit(Cp(p, 1));
  f.store.Script({Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient});
  for (int i = 0; i < 3; ++i) CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  auto s = core.GetStats();
  CHECK(s.circuit_breaker_state == "open");
  CHECK(s.circuit_breaker_trips == 1);
  CHECK(s.circuit_breaker_failure_count == 3);
  // While open: nothing is written, nothing dropped, submits still coalesce.
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSkippedOpen);
  CHECK(core.Submit(Cp(0, 7)).code == SubmitCode::kCoalesced);
  CHECK(core.ForcePersistence(1s) == ForceResult::kCircuitOpen);
  CHECK(core.SubmitUnit({}).get() == UnitResult::kCircuitOpen);
  CHECK(core.GetStats().pending_count == 5);
  f.clock.Advance(5s);
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);  // the probe: one row
  CHECK(f.store.batch_sizes().back() == 1);
  CHECK(core.GetStats().circuit_breaker_state == "closed");
  CHECK(core.ForcePersistence(1s) == ForceResult::kOk);
  CHECK(f.store.Row(Key(0))->position == 7);
}

TEST_CASE("fenced keys are dropped, reported and not breaker failures", "[persistence][fencing]") {
  Fixture f;
  std::vector<CheckpointKey> reported;
  PersistenceCore core(f.store, f.clock, Options(), [&](const CheckpointKey& k, std::int64_t) { reported.push_back(k); });
  f.store.StampGeneration(Key(1), 2);  // a newer owner took partition 1
  const auto fenced = core.Submit(Cp(1, 10, 1)).ticket;
  const auto fine = core.Submit(Cp(2, 10, 1)).ticket;
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(fenced->state() == Durability::kFenced);
  CHECK(fine->state() == Durability::kDurable);
  REQUIRE(reported.size() == 1);
  CHECK(reported[0] == Key(1));
  const auto s = core.GetStats();
  CHECK(s.fenced == 1);
  CHECK(s.circuit_breaker_failure_count == 0);
  CHECK(core.Submit(Cp(1, 11, 1)).code == SubmitCode::kRejectedStale);  // never retried
  CHECK(core.Submit(Cp(1, 11, 3)).code == SubmitCode::kAccepted);       // a newer generation may
}

TEST_CASE("MAX_PENDING refuses new keys with a distinct code", "[persistence][backpressure]") {
  Fixture f;
  auto o = Options();
  o.max_pending = 5;
  PersistenceCore core(f.store, f.clock, o);
  for (int p = 0; p < 5; ++p) CHECK(core.Submit(Cp(p, 1)).code == SubmitCode::kAccepted);
  CHECK(core.Submit(Cp(5, 1)).code == SubmitCode::kRejectedFull);
  CHECK(core.Submit(Cp(0, 2)).code == SubmitCode::kCoalesced);  // an existing key still coalesces
  CHECK(core.ShouldPause());
  const auto s = core.GetStats();
  CHECK(s.rejected_full == 1);
  CHECK(s.capacity_warnings >= 2);
  core.FlushOnce(Trigger::kInterval);
  CHECK_FALSE(core.ShouldPause());
}

TEST_CASE("runners are told to pause when durable progress lags too far", "[persistence][backpressure]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());  // max_lag_events 1000, max_lag_time 10s
  // Positions are global: 40 partitions moved to 900 by one runner are 900 events of lag.
  for (int p = 1; p <= 40; ++p) core.Submit(Cp(p, 900));
  CHECK_FALSE(core.ShouldPause());
  core.Submit(Cp(2, 1100));
  CHECK(core.ShouldPause());  // 1100 events not yet durable
  while (core.FlushOnce(Trigger::kInterval) == projd::FlushOutcome::kSuccess && core.GetStats().pending_count > 0) {
  }
  CHECK_FALSE(core.ShouldPause());
  core.Submit(Cp(1, 910));
  f.clock.Advance(11s);
  CHECK(core.ShouldPause());  // oldest pending is too old
}

TEST_CASE("the barrier waits for everything submitted before it, never for a failure", "[persistence][barrier]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  for (int p = 0; p < 25; ++p) core.Submit(Cp(p, 100));
  f.store.Script({Behaviour::kTransient});
  CHECK(core.ForcePersistence(5s) == ForceResult::kOk);  // first attempt failed, then 3 batches
  for (int p = 0; p < 25; ++p) CHECK(f.store.Row(Key(p))->position == 100);
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kForce, projd::FlushOutcome::kFailure) == 1);
}

TEST_CASE("the barrier is never satisfied while the database keeps failing", "[persistence][barrier]") {
  Fixture f;
  auto o = Options();
  o.breaker_threshold = 100;
  PersistenceCore core(f.store, f.clock, o);
  core.Submit(Cp(1, 10));
  f.store.SetLatency(100ms);
  f.store.Script({Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient,
                  Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient,
                  Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient});
  CHECK(core.ForcePersistence(1s) == ForceResult::kTimeout);
  CHECK_FALSE(f.store.Row(Key(1)).has_value());
}

TEST_CASE("a barrier across threads covers submits made before it by other threads", "[persistence][barrier]") {
  projd::SystemClock clock;
  projd::testing::FakeCheckpointStore store;
  auto o = Options();
  o.interval = 1h;  // only the barrier flushes
  PersistenceCore core(store, clock, o);
  core.Start();
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 1; i <= 1000; ++i) core.Submit(Cp(t, i));
    });
  }
  for (auto& s : submitters) s.join();
  CHECK(core.ForcePersistence(10s) == ForceResult::kOk);
  for (int t = 0; t < 4; ++t) CHECK(store.Row(Key(t))->position == 1000);
  core.Shutdown();
}

TEST_CASE("the size trigger flushes without waiting for the interval", "[persistence]") {
  projd::SystemClock clock;
  projd::testing::FakeCheckpointStore store;
  auto o = Options();
  o.interval = 1h;
  PersistenceCore core(store, clock, o);
  core.Start();
  for (int p = 0; p < 10; ++p) core.Submit(Cp(p, 1));  // MAX_BATCH_SIZE keys
  // The stats are recorded after the store returns: wait for them, not for the store call.
  CHECK(projd::testing::WaitFor([&] { return core.GetStats().flushes.Count(projd::Trigger::kSize, projd::FlushOutcome::kSuccess) == 1; }, 10s));
  CHECK(store.batches() == 1);
  core.Shutdown();
}

TEST_CASE("the interval flushes at a fixed rate on the injected clock", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Start();
  core.Submit(Cp(1, 1));
  f.clock.Advance(1s);
  CHECK(projd::testing::WaitFor([&] { return f.store.batches() == 1; }, 10s));
  core.Submit(Cp(1, 2));
  f.clock.Advance(1s);
  CHECK(projd::testing::WaitFor([&] { return f.store.batches() == 2; }, 10s));
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess) == 2);
  core.Shutdown();
}

TEST_CASE("revoke drains only the given keys", "[persistence]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Submit(Cp(1, 10));
  core.Submit(Cp(2, 10));
  CHECK(core.Revoke({Key(1)}, 1s) == ForceResult::kOk);
  CHECK(f.store.Row(Key(1)).has_value());
  CHECK_FALSE(f.store.Row(Key(2)).has_value());
  CHECK(core.GetStats().flushes.Count(projd::Trigger::kRevoke, projd::FlushOutcome::kSuccess) == 1);
}

TEST_CASE("shutdown drains and reports what stayed unflushed", "[persistence][shutdown]") {
  SECTION("a healthy database: everything drained") {
    Fixture f;
    PersistenceCore core(f.store, f.clock, Options());
    for (int p = 0; p < 23; ++p) core.Submit(Cp(p, 5));
    const auto report = core.Shutdown();
    CHECK(report.drained);
    CHECK(report.unflushed.empty());
    CHECK(f.store.rows_written() == 23);
    CHECK(core.Submit(Cp(1, 6)).code == SubmitCode::kRejectedFull);  // closed for business
  }
  SECTION("a database that stays down: reported, tickets abandoned") {
    Fixture f;
    auto o = Options();
    o.breaker_threshold = 1000;
    PersistenceCore core(f.store, f.clock, o);
    const auto t = core.Submit(Cp(1, 5)).ticket;
    f.store.SetLatency(500ms);
    f.store.Script({Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient,
                    Behaviour::kTransient, Behaviour::kTransient});
    const auto report = core.Shutdown();
    CHECK_FALSE(report.drained);
    REQUIRE(report.unflushed.size() == 1);
    CHECK(report.unflushed[0].position == 5);
    CHECK(t->state() == Durability::kAbandoned);
  }
}

// A store whose writes block until released: a database that takes a statement and never
// answers (the client-side cancel never arrives either).
class BlockingStore final : public projd::CheckpointStore {
 public:
  projd::WriteOutcome WriteBatch(std::span<const Checkpoint>, std::chrono::milliseconds) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    throw projd::InDoubtError("blocked write released");
  }
  projd::UnitOutcome CommitUnit(const projd::TransactionalUnit&, std::chrono::milliseconds) override {
    return projd::UnitOutcome::kCommitted;
  }
  projd::StampResult Stamp(const std::string&, const std::vector<std::string>&, const std::vector<int>&, std::int64_t,
                           const std::string&) override {
    return {};
  }
  std::vector<Checkpoint> Read(const std::string&, const std::string&) override { return {}; }
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

TEST_CASE("shutdown ends by its deadline when the flusher is stuck in a write, reporting it abandoned",
          "[persistence][shutdown]") {
  projd::SystemClock clock;
  BlockingStore store;
  auto o = Options();
  o.max_batch_size = 1;  // one submit is a size trigger: the flusher writes at once
  PersistenceCore core(store, clock, o);
  core.Start();
  core.Submit(Cp(1, 5));
  REQUIRE(store.WaitEntered());
  core.Submit(Cp(2, 7));
  const auto report = core.Shutdown(clock.Now() + 200ms);
  CHECK_FALSE(report.drained);
  CHECK(report.abandoned == std::vector<std::string>{"persistence flusher"});
  CHECK(report.unflushed.size() == 2);  // the one in flight and the one behind it
  CHECK(core.Unflushed() == 2);
  store.Release();  // lets the destructor join the flusher
}

TEST_CASE("the final drain cuts its batches at the shutdown deadline", "[persistence][shutdown]") {
  Fixture f;
  auto o = Options();
  o.timeout = 1s;
  o.breaker_threshold = 1000;
  PersistenceCore core(f.store, f.clock, o);
  core.Submit(Cp(1, 5));
  f.store.Script({Behaviour::kHang});  // advances the fake clock by the timeout it was given
  const auto start = f.clock.Now();
  const auto report = core.Shutdown(start + 300ms);
  CHECK(f.clock.Now() - start == 300ms);  // not the 1 s of PERSISTENCE_TIMEOUT
  CHECK_FALSE(report.drained);
  CHECK(report.abandoned.empty());
  CHECK(report.unflushed.size() == 1);
}

TEST_CASE("transactional units commit in order on the lane and report fencing", "[persistence][units]") {
  projd::SystemClock clock;
  projd::testing::FakeCheckpointStore store;
  PersistenceCore core(store, clock, Options());
  core.Start();
  std::atomic<int> applied{0};
  projd::TransactionalUnit unit{{Cp(1, 10)}, {}, [&](projd::TransactionHandle&) { ++applied; }};
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kCommitted);
  store.StampGeneration(Key(1), 5);
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kFenced);
  const auto s = core.GetStats();
  CHECK(s.units_committed == 1);
  CHECK(s.units_fenced == 1);
  CHECK(s.circuit_breaker_failure_count == 0);
  core.Shutdown();
}

TEST_CASE("stats carry the PersistenceWorker guide's fields", "[persistence][stats]") {
  Fixture f;
  f.store.SetLatency(3ms);
  PersistenceCore core(f.store, f.clock, Options());
  core.Submit(Cp(1, 1));
  core.FlushOnce(Trigger::kInterval);
  f.store.Script({Behaviour::kTransient});
  core.Submit(Cp(1, 2));
  core.FlushOnce(Trigger::kInterval);
  f.clock.Advance(2s);
  const auto s = core.GetStats();
  CHECK(s.total_requests == 2);
  CHECK(s.successful_requests == 1);
  CHECK(s.failed_requests == 1);
  CHECK(s.average_response_time == Approx(3.0));
  CHECK(s.min_response_time == Approx(3.0));
  CHECK(s.max_response_time == Approx(3.0));
  CHECK(s.last_success_time > 0);
  CHECK(s.last_failure_time >= s.last_success_time);
  CHECK(s.last_persistence_time == s.last_success_time);
  CHECK(s.pending_count == 1);
  CHECK(s.oldest_pending_age == 2003);  // submitted at 3 ms, after the first flush
  CHECK(s.uptime == 2006);
}

namespace {
// A logger whose lines land in a string (thread-safe sink).
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  projd::Logger logger{std::make_shared<spdlog::logger>("persistence", sink), projd::LogFormat::kText};
  std::string text() {
    sink->flush();
    return out.str();
  }
  int Count(const std::string& needle) {
    const auto t = text();
    int n = 0;
    for (auto at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) ++n;
    return n;
  }
};
}  // namespace

TEST_CASE("a permanent database error (disk full, read-only) is a failed flush, never an exception",
          "[persistence][errors]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Submit(Cp(1, 5));
  f.store.Script({Behaviour::kPermanent, Behaviour::kNotAnError});
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(core.LastError() == "fake: could not extend file: No space left on device");
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);  // not even a projd::Error escapes
  CHECK(core.GetStats().pending_count == 1);                             // kept for the retry
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(core.LastError().empty());
  CHECK(f.store.Row(Key(1))->position == 5);
  CHECK(core.GetStats().failed_requests == 2);
}

TEST_CASE("a permanent error from the store does not escape the flusher thread and is retried",
          "[persistence][errors]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  f.store.Script({Behaviour::kPermanent, Behaviour::kPermanent});
  core.Start();
  core.Submit(Cp(1, 7));
  // Before, the first PermanentError ended the process (std::terminate from the thread).
  for (int tick = 1; tick <= 3; ++tick) {
    f.clock.Advance(1s);
    REQUIRE(projd::testing::WaitFor([&] { return f.store.batches() >= tick; }, 10s));
  }
  REQUIRE(projd::testing::WaitFor([&] { return f.store.Row(Key(1)).has_value(); }, 10s));
  CHECK(f.store.Row(Key(1))->position == 7);
  const auto s = core.GetStats();
  CHECK(s.flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kFailure) == 2);
  CHECK(s.flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess) == 1);
  CHECK(core.Shutdown().drained);
}

TEST_CASE("a unit failing on a permanent database error is a breaker failure and the lane goes on",
          "[persistence][errors][units]") {
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());
  core.Start();
  f.store.Script({Behaviour::kPermanent, Behaviour::kNotAnError});
  projd::TransactionalUnit unit;
  unit.checkpoints = {Cp(1, 3)};
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kFailed);
  CHECK(core.LastError() == "fake: could not extend file: No space left on device");
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kFailed);
  CHECK(core.GetStats().circuit_breaker_failure_count == 2);
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kCommitted);
  CHECK(core.GetStats().circuit_breaker_failure_count == 0);
  // The projection's own failure is not the database's: no breaker failure, no last error.
  projd::TransactionalUnit poison;
  poison.checkpoints = {Cp(1, 4)};
  poison.apply = [](projd::TransactionHandle&) { throw std::runtime_error("bad event"); };
  CHECK(core.SubmitUnit(poison).get() == UnitResult::kFailed);
  CHECK(core.GetStats().circuit_breaker_failure_count == 0);
  CHECK(core.LastError().empty());
  core.Shutdown();
}

TEST_CASE("breaker transitions and failed flushes are logged with the error, rate-limited",
          "[persistence][breaker][logging]") {
  Fixture f;
  CapturedLog log;
  auto o = Options();  // breaker after 3 failures, probe after 5 s
  o.failure_log_interval = 30s;
  PersistenceCore core(f.store, f.clock, o, {}, nullptr, log.logger);
  core.Submit(Cp(0, 1));
  f.store.Script({Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient,
                  Behaviour::kTransient});
  for (int i = 0; i < 3; ++i) CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(core.GetStats().circuit_breaker_state == "open");
  // The first failure is logged with its text; the next two fall in the same 30 s window.
  CHECK(log.Count("persistence transaction failed") == 1);
  CHECK_THAT(log.text(), Catch::Contains("error=\"fake: connection refused\""));
  CHECK(log.Count("persistence circuit breaker opened") == 1);

  f.clock.Advance(5s);  // half-open: the probe fails (logged once), open again
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(log.Count("persistence circuit breaker probe failed") == 1);
  f.clock.Advance(5s);  // a second failed probe within the window: not logged again
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(log.Count("persistence circuit breaker probe failed") == 1);
  CHECK(log.Count("persistence transaction failed") == 1);

  f.clock.Advance(25s);  // 35 s after the first line: the next failure is logged, with the count
  f.store.Script({Behaviour::kTransient});
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kFailure);
  CHECK(log.Count("persistence transaction failed") == 2);
  CHECK_THAT(log.text(), Catch::Contains("failures=6 since_last_log=5"));

  f.clock.Advance(5s);  // the probe succeeds: closed, and the recovery is logged
  CHECK(core.FlushOnce(Trigger::kInterval) == FlushOutcome::kSuccess);
  CHECK(log.Count("persistence circuit breaker closed") == 1);
  CHECK_THAT(log.text(), Catch::Contains("persistence transactions succeed again"));
  CHECK_THAT(log.text(), Catch::Contains("failed_before=6"));
}

TEST_CASE("a log throttle logs the first occurrence, then at most once per interval with a count",
          "[logging][throttle]") {
  projd::LogThrottle t(10s);
  projd::testing::FakeClock clock;
  CHECK(t.Occur(clock.Now()) == 1);
  clock.Advance(3s);
  CHECK(t.Occur(clock.Now()) == 0);
  CHECK(t.Occur(clock.Now()) == 0);
  clock.Advance(7s);
  CHECK(t.Occur(clock.Now()) == 3);  // this one and the two suppressed
  CHECK(t.episode() == 4);
  CHECK(t.End() == 4);
  CHECK(t.End() == 0);
  CHECK(t.Occur(clock.Now()) == 1);  // a new episode is logged at once
}

TEST_CASE("with only transactional units, a unit probes the open breaker after its timeout", "[persistence][breaker][units]") {
  // A worker running only transactional projections has no checkpoint flush to probe with.
  Fixture f;
  PersistenceCore core(f.store, f.clock, Options());  // open after 3 failures, probe after 5 s
  core.Start();
  f.store.Script({Behaviour::kTransient, Behaviour::kTransient, Behaviour::kTransient});
  projd::TransactionalUnit unit;
  unit.checkpoints = {Cp(1, 3)};
  for (int i = 0; i < 3; ++i) CHECK(core.SubmitUnit(unit).get() == UnitResult::kFailed);
  CHECK(core.GetStats().circuit_breaker_state == "open");
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kCircuitOpen);
  f.clock.Advance(5s);
  CHECK(core.SubmitUnit(unit).get() == UnitResult::kCommitted);  // the probe
  CHECK(core.GetStats().circuit_breaker_state == "closed");
  core.Shutdown();
}
