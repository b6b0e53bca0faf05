// ProjectionRunner states, replay marks and parking, with an in-memory stream, fake
// checkpoint and dead-letter stores and a fake clock (the stall timer). The runner's own thread runs; every wait here
// is a bounded wait for a condition.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <set>

#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/runtime/projection_runner.h"
#include "tests/support/fake_checkpoint_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_dead_letter_store.h"
#include "tests/support/fake_event_reader.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::Event;
using projd::RunnerState;
using projd::StreamId;
using projd::testing::WaitFor;

namespace {

// A sink that records what it saw and can be made to hang until released; async unless
// made transactional (then it records in Apply, inside the unit).
class RecordingSink final : public projd::BatchSink {
 public:
  bool transactional = false;
  std::string Name() const override { return "recorder"; }
  bool Transactional() const override { return transactional; }
  void Apply(std::span<const Event> batch, projd::TransactionHandle&) override { Handle(batch, false); }
  void Handle(std::span<const Event> batch, bool replaying) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !hang_; });
    for (const auto& e : batch) (replaying ? replayed_ : fresh_).push_back(e.global_position);
  }
  void InterruptBatch() override { ++interrupts; }
  std::atomic<int> interrupts{0};
  void Hang(bool on) {
    {
      std::lock_guard lock(mu_);
      hang_ = on;
    }
    cv_.notify_all();
  }
  std::vector<std::int64_t> replayed() {
    std::lock_guard lock(mu_);
    return replayed_;
  }
  std::vector<std::int64_t> fresh() {
    std::lock_guard lock(mu_);
    return fresh_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hang_ = false;
  std::vector<std::int64_t> replayed_, fresh_;
};

projd::PersistenceOptions CoreOptions() {
  projd::PersistenceOptions o;
  o.interval = 1h;  // flushes only when a test asks: durability is not what is tested here
  o.max_pending = 1000;
  o.max_lag_events = 1'000'000;
  o.max_lag_time = 1h;
  return o;
}

struct Fixture {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
  projd::PersistenceCore core{store, clock, CoreOptions()};
  projd::PublishedMark mark;
  RecordingSink sink;
  projd::testing::FakeEventReader* reader = nullptr;
  std::unique_ptr<projd::ProjectionRunner> runner;

  explicit Fixture(bool transactional = false, bool await_pauses = false) {
    sink.transactional = transactional;
    if (transactional) core.Start();  // the unit lane
    auto r = std::make_unique<projd::testing::FakeEventReader>();
    reader = r.get();
    projd::RunnerOptions o;
    o.replica_set = "rs";
    o.worker_id = "w1";
    o.batch_size = 5;
    o.poll_interval = 20ms;
    o.stall_after = 30s;
    o.await_pauses = await_pauses;
    runner = std::make_unique<projd::ProjectionRunner>(sink, std::move(r), nullptr, core, mark, clock,
                                                      projd::Logger("test", "off", projd::LogFormat::kText), o);
    runner->Start();
  }
  ~Fixture() {
    sink.Hang(false);
    runner->Stop();
  }
  void Take(std::int64_t position = 0, std::int64_t replay_until = 0) {
    runner->Take(4, {Checkpoint{{"rs", "recorder", 0}, position, 1, "w1", replay_until}});
  }
  RunnerState State() { return runner->Status().state; }
};

// A transactional sink with the `skip` policy that throws on events of type "Poison" and
// records the positions it applied.
class PoisonSink final : public projd::BatchSink {
 public:
  std::string Name() const override { return "poisoned"; }
  bool Transactional() const override { return true; }
  projd::ErrorHandling OnError() const override { return {2, 1ms, 2ms, /*skip=*/true}; }
  void Apply(std::span<const Event> batch, projd::TransactionHandle&) override {
    for (const auto& e : batch) {
      if (e.event_type == "Poison") throw std::runtime_error("cannot handle poison");
    }
    std::lock_guard lock(mu_);
    for (const auto& e : batch) applied_.push_back(e.global_position);
  }
  std::vector<std::int64_t> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }

 private:
  std::mutex mu_;
  std::vector<std::int64_t> applied_;
};

// A runner of PoisonSink over a FakeDeadLetterStore, on one partition.
struct ParkingFixture {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
  projd::PersistenceCore core{store, clock, CoreOptions()};
  projd::PublishedMark mark;
  PoisonSink sink;
  projd::testing::FakeEventReader* reader = nullptr;
  projd::testing::FakeDeadLetterStore* dead_letters = nullptr;
  std::unique_ptr<projd::ProjectionRunner> runner;

  ParkingFixture() {
    core.Start();
    auto r = std::make_unique<projd::testing::FakeEventReader>();
    auto d = std::make_unique<projd::testing::FakeDeadLetterStore>();
    reader = r.get();
    dead_letters = d.get();
    projd::RunnerOptions o;
    o.replica_set = "rs";
    o.worker_id = "w1";
    o.batch_size = 10;
    o.poll_interval = 20ms;
    runner = std::make_unique<projd::ProjectionRunner>(sink, std::move(r), std::move(d), core, mark, clock,
                                                      projd::Logger("test", "off", projd::LogFormat::kText), o);
  }
  ~ParkingFixture() { runner->Stop(); }
  // Starts the runner over every appended event and waits until it is at the end.
  void RunToEnd(std::int64_t last) {
    runner->Start();
    mark.Publish(last);
    runner->Take(4, {Checkpoint{{"rs", "poisoned", 0}, 0, 1, "w1"}});
    REQUIRE(WaitFor([&] { return runner->Status().min_position == last; }, 5s));
  }
};

}  // namespace

TEST_CASE("before the mark is observed a runner with partitions is not caught up, and reads nothing", "[runner]") {
  Fixture f;
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.Take();  // start-up: partitions taken, the follower has not completed a round yet
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kRunning; }, 5s));  // never caught_up at 0
  f.mark.Publish(12, /*complete=*/false);  // a failed first round is not an observation
  CHECK(f.State() == RunnerState::kRunning);
  CHECK(f.sink.fresh().empty());
  f.mark.Publish(12);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(f.sink.fresh().size() == 12);
}

TEST_CASE("a runner without partitions is idle, then runs and reports caught up at the mark", "[runner]") {
  Fixture f;
  CHECK(f.State() == RunnerState::kIdle);
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  const auto s = f.runner->Status();
  CHECK(s.events_processed == 12);
  CHECK(s.min_position == 12);
  CHECK(f.sink.fresh().size() == 12);
}

TEST_CASE("a runner awaiting its pauses reads nothing until they arrive", "[runner][pause]") {
  Fixture f(false, /*await_pauses=*/true);
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kPaused; }, 5s));  // a round ran, and read nothing
  CHECK(f.sink.fresh().empty());
  f.runner->SetPaused({});  // none
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(f.sink.fresh().size() == 12);
}

TEST_CASE("a paused runner stops reading, keeps its lag, and goes on where it stopped when resumed",
          "[runner][pause]") {
  Fixture f;
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  f.runner->SetPaused({.every = true});
  for (int i = 0; i < 8; ++i) f.reader->Append(0);
  f.mark.Publish(20);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kPaused; }, 5s));
  f.clock.Advance(40s);  // far past stall_after: paused is not stalled
  auto s = f.runner->Status();
  CHECK(s.state == RunnerState::kPaused);
  CHECK(s.min_position == 12);
  CHECK(s.lag_time >= 40s);  // the lag is real while paused
  CHECK(s.paused.every);
  CHECK(f.sink.fresh().size() == 12);
  f.runner->SetPaused({});
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(f.runner->Status().min_position == 20);
  std::vector<std::int64_t> expected(20);
  std::iota(expected.begin(), expected.end(), 1);
  CHECK(f.sink.fresh() == expected);  // each event once, in order
}

TEST_CASE("pausing one partition stops it alone", "[runner][pause]") {
  Fixture f;
  std::vector<std::int64_t> of_0, of_1;
  for (int i = 0; i < 10; ++i) (i % 2 ? of_1 : of_0).push_back(f.reader->Append(i % 2));
  f.mark.Publish(10);
  f.runner->SetPaused({.every = false, .partitions = {1}});
  f.runner->Take(4, {Checkpoint{{"rs", "recorder", 0}, 0, 1, "w1"}, Checkpoint{{"rs", "recorder", 1}, 0, 1, "w1"}});
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kPaused; }, 5s));
  CHECK(f.sink.fresh() == of_0);
  f.runner->SetPaused({});
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  auto all = f.sink.fresh();
  std::sort(all.begin(), all.end());
  CHECK(all.size() == 10);
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}

TEST_CASE("a runner at a mark that waits on a live transaction reports held", "[runner]") {
  Fixture f;
  f.reader->Append(0);
  f.mark.held = true;
  f.mark.Publish(1);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kHeld; }, 5s));
  f.mark.held = false;
  f.reader->Append(0);
  f.mark.Publish(2);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp && f.runner->Status().min_position == 2; }, 5s));
}

TEST_CASE("a runner whose handler hangs while the mark is ahead reports stalled after stall_after", "[runner]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.reader->Append(0);
  f.sink.Hang(true);
  f.mark.Publish(3);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kRunning; }, 5s));
  f.clock.Advance(29s);
  CHECK(f.State() != RunnerState::kStalled);
  f.clock.Advance(2s);
  CHECK(f.State() == RunnerState::kStalled);
  f.sink.Hang(false);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(f.sink.fresh().size() == 3);
}

TEST_CASE("releasing a partition whose batch is in flight interrupts the handler, releasing others does not",
          "[runner]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.reader->Append(0);
  f.sink.Hang(true);
  f.mark.Publish(3);
  f.Take();
  REQUIRE(WaitFor([&] { return f.runner->Busy({0}); }, 5s));  // the handler holds partition 0
  f.runner->Release({1});
  CHECK(f.sink.interrupts == 0);
  f.runner->Release({0});
  CHECK(f.sink.interrupts == 1);
  f.sink.Hang(false);
}

TEST_CASE("events up to a partition's replay mark are handed over as a replay, later ones are not", "[runner]") {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.reader->Append(0);
  f.mark.Publish(10);
  f.Take(0, 5);  // rebuilt: the checkpoint had been at 5 before it was reset to 0
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(f.sink.replayed() == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(f.sink.fresh() == std::vector<std::int64_t>{6, 7, 8, 9, 10});
  CHECK(f.runner->Status().replayed == 5);
}

TEST_CASE("an async runner that reaches the mark after a backlog makes its checkpoints durable at once",
          "[runner][backpressure]") {
  Fixture f;  // async; the core's interval is an hour
  f.core.Start();
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp; }, 5s));
  CHECK(WaitFor([&] { return f.store.Row({"rs", "recorder", 0}).has_value() &&
                             f.store.Row({"rs", "recorder", 0})->position == 12; }, 5s));
  CHECK(f.core.GetStats().flushes.Count(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess) == 0);
}

TEST_CASE("a transactional runner reads the next batch while its unit commits, one batch ahead",
          "[runner][units]") {
  Fixture f(/*transactional=*/true);
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.sink.Hang(true);  // unit (0, 5] hangs inside Apply on the lane
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.reader->reads() >= 2; }, 5s));  // (5, 10] read meanwhile
  CHECK(f.sink.fresh().empty());
  CHECK(f.reader->reads() == 2);  // bounded: one batch ahead
  f.sink.Hang(false);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp && f.runner->Status().min_position == 12; }, 5s));
  CHECK(f.sink.fresh() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(f.reader->reads() == 3);  // the read-ahead was used, not read again
}

TEST_CASE("a failed unit discards the read-ahead: every event once, in order", "[runner][units]") {
  Fixture f(/*transactional=*/true);
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  using B = projd::testing::FakeCheckpointStore::Behaviour;
  f.store.Script({B::kOk, B::kTransient, B::kOk, B::kTransient});  // the 2nd and 4th attempts fail
  f.mark.Publish(12);
  f.Take();
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp && f.runner->Status().min_position == 12; }, 10s));
  CHECK(f.sink.fresh() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(f.runner->Status().database_errors == 2);
}

TEST_CASE("a unit reported in doubt that had committed is not applied again by a wider batch", "[runner][units]") {
  // The batch (0, 3] commits but the reply is lost; by the retry the mark moved to 12, so
  // the runner reads (0, 5]: the store sees the row at 3, not at 0, and refuses (moved); the
  // runner re-reads its position and goes on from 3. Before, (0, 3] was applied twice.
  Fixture f(/*transactional=*/true);
  for (int i = 0; i < 12; ++i) f.reader->Append(0);
  f.store.Script({projd::testing::FakeCheckpointStore::Behaviour::kCommittedReplyLost});
  f.mark.Publish(3);
  f.Take();
  REQUIRE(WaitFor([&] { return f.store.units() >= 1 && f.runner->Status().errors >= 1; }, 5s));
  f.mark.Publish(12);
  REQUIRE(WaitFor([&] { return f.State() == RunnerState::kCaughtUp && f.runner->Status().min_position == 12; }, 5s));
  const auto seen = f.sink.fresh();
  CHECK(seen == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("a dead letter parks only its own stream, not the same aggregate id of another type or context",
          "[runner][dead_letters]") {
  ParkingFixture f;
  const StreamId poisoned{"sales", "A", "42"};
  std::vector<std::int64_t> parked;  // positions that must wait behind the dead letter
  SECTION("the poison is found by this runner") {
    f.reader->Append(0, poisoned, "Opened");
    f.reader->Append(0, poisoned, "Poison");
  }
  SECTION("the dead letter was recorded before (another worker, an earlier run)") {
    f.dead_letters->Preload({"rs", "poisoned", 99, poisoned, "Poison", false, "cannot handle poison", 2});
    parked.push_back(f.reader->Append(0, poisoned, "Opened"));
  }
  parked.push_back(f.reader->Append(0, poisoned, "Deposited"));
  const auto other_type = f.reader->Append(0, StreamId{"sales", "B", "42"}, "Opened");
  const auto other_context = f.reader->Append(0, StreamId{"billing", "A", "42"}, "Opened");
  const auto other_id = f.reader->Append(0, StreamId{"sales", "A", "43"}, "Opened");
  f.RunToEnd(other_id);

  const auto applied = f.sink.applied();
  for (const auto p : {other_type, other_context, other_id}) {
    CHECK(std::count(applied.begin(), applied.end(), p) == 1);
  }
  for (const auto p : parked) CHECK(std::count(applied.begin(), applied.end(), p) == 0);
  std::vector<std::int64_t> recorded_parked;
  for (const auto& l : f.dead_letters->letters()) {
    CHECK(l.stream == poisoned);  // every dead letter is of the poisoned stream
    if (l.parked) recorded_parked.push_back(l.global_position);
  }
  CHECK(recorded_parked == parked);
  CHECK(f.dead_letters->ParkedStreams("rs", "poisoned") == std::set<StreamId>{poisoned});
  f.clock.Advance(1s);  // past POLL_INTERVAL: the runner re-reads the parked set from the store
  CHECK(WaitFor([&] { return f.runner->Status().parked_aggregates == 1; }, 5s));
}

TEST_CASE("a partition restarted under a new generation reads the parked streams again before delivering",
          "[runner][dead_letters][reset]") {
  ParkingFixture f;
  const StreamId stream{"sales", "A", "7"};
  f.dead_letters->Preload({"rs", "poisoned", 99, stream, "Poison", false, "cannot handle poison", 2});
  const auto deposited = f.reader->Append(0, stream, "Deposited");
  f.RunToEnd(deposited);
  REQUIRE(f.sink.applied().empty());  // parked behind the dead letter
  REQUIRE(f.dead_letters->letters().size() == 2);

  // A reset back to 0 (or a rebuild) deleted the dead letters and restarts the partition under
  // generation 2. The fake clock stands still: only the restart can make the runner look again.
  f.dead_letters->DeleteAbove(0);
  f.runner->Take(4, {Checkpoint{{"rs", "poisoned", 0}, 0, 2, "w1"}});
  REQUIRE(WaitFor([&] { return f.sink.applied() == std::vector<std::int64_t>{deposited}; }, 5s));
  CHECK(f.dead_letters->letters().empty());
  CHECK(f.runner->Status().parked_aggregates == 0);
}

namespace {

// A sink whose every call fails with `error` while failing() is on, counting the attempts;
// then it records what it applied. The policy is `skip` after two attempts, so a database
// error counted as a handler error would dead-letter healthy events within milliseconds.
class FlakySink final : public projd::BatchSink {
 public:
  FlakySink(bool transactional, std::function<void()> error) : transactional_(transactional), error_(std::move(error)) {}
  std::string Name() const override { return "flaky"; }
  bool Transactional() const override { return transactional_; }
  projd::ErrorHandling OnError() const override { return {2, 1ms, 2ms, /*skip=*/true}; }
  void Apply(std::span<const Event> batch, projd::TransactionHandle&) override { Handle(batch, false); }
  void Handle(std::span<const Event> batch, bool) override {
    std::lock_guard lock(mu_);
    if (failing_) {
      ++attempts_;
      error_();
    }
    for (const auto& e : batch) applied_.push_back(e.global_position);
  }
  void Heal() {
    std::lock_guard lock(mu_);
    failing_ = false;
  }
  int attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::vector<std::int64_t> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }

 private:
  const bool transactional_;
  const std::function<void()> error_;
  std::mutex mu_;
  bool failing_ = true;
  int attempts_ = 0;
  std::vector<std::int64_t> applied_;
};

projd::PersistenceOptions PatientCoreOptions() {
  auto o = CoreOptions();
  o.breaker_threshold = 1000;  // the breaker is the core's business; the fake clock stands still
  return o;
}

struct FlakyFixture {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore store{&clock};
  projd::PersistenceCore core{store, clock, PatientCoreOptions()};
  projd::PublishedMark mark;
  FlakySink sink;
  projd::testing::FakeEventReader* reader = nullptr;
  projd::testing::FakeDeadLetterStore* dead_letters = nullptr;
  std::unique_ptr<projd::ProjectionRunner> runner;

  FlakyFixture(bool transactional, std::function<void()> error) : sink(transactional, std::move(error)) {
    core.Start();
    auto r = std::make_unique<projd::testing::FakeEventReader>();
    auto d = std::make_unique<projd::testing::FakeDeadLetterStore>();
    reader = r.get();
    dead_letters = d.get();
    projd::RunnerOptions o;
    o.replica_set = "rs";
    o.worker_id = "w1";
    o.batch_size = 4;
    o.poll_interval = 20ms;
    o.retry_initial = 1ms;  // the database's backoff: kept short so the test sees many retries
    o.retry_max = 2ms;
    runner = std::make_unique<projd::ProjectionRunner>(sink, std::move(r), std::move(d), core, mark, clock,
                                                      projd::Logger("test", "off", projd::LogFormat::kText), o);
  }
  ~FlakyFixture() { runner->Stop(); }
};

}  // namespace

TEST_CASE("a database error inside Handle is retried until it clears: no dead letter, no stop, no policy",
          "[runner][errors]") {
  // Transactional and async sinks; errors as ProjectionSink reports them (projd::Error):
  // a cancelled statement (lock or statement timeout), a deadlock, disk full.
  bool transactional = true;
  std::function<void()> error;
  SECTION("transactional, a statement cancelled at PERSISTENCE_TIMEOUT") {
    error = [] { throw projd::TransientError("projection flaky: ERROR: canceling statement due to statement timeout"); };
  }
  SECTION("transactional, disk full") {
    error = [] { throw projd::PermanentError("projection flaky: ERROR: could not extend file: No space left on device"); };
  }
  SECTION("async, a deadlock") {
    transactional = false;
    error = [] { throw projd::TransientError("projection flaky: ERROR: deadlock detected"); };
  }
  SECTION("async, a read-only server") {
    transactional = false;
    error = [] { throw projd::PermanentError("projection flaky: ERROR: cannot execute INSERT in a read-only transaction"); };
  }
  FlakyFixture f(transactional, error);
  std::int64_t last = 0;
  for (int i = 0; i < 10; ++i) last = f.reader->Append(0, "agg-" + std::to_string(i % 3));
  f.runner->Start();
  f.mark.Publish(last);
  f.runner->Take(4, {Checkpoint{{"rs", "flaky", 0}, 0, 1, "w1"}});

  // Far more failures than the policy's two attempts: still only retried. (Wait for the
  // counted failures: an attempt is counted by the sink before the runner records it.)
  REQUIRE(WaitFor([&] { return f.runner->Status().database_errors >= 20; }, 10s));
  auto s = f.runner->Status();
  CHECK(s.state == RunnerState::kFailing);
  CHECK(s.database_error);
  CHECK_FALSE(s.last_error.empty());
  CHECK(s.database_errors >= 20);
  CHECK(s.database_errors == s.errors);
  CHECK(s.stopped.empty());
  CHECK(s.dead_letters == 0);
  CHECK(f.dead_letters->letters().empty());
  CHECK(f.sink.applied().empty());

  f.sink.Heal();
  REQUIRE(WaitFor([&] { return f.runner->Status().state == RunnerState::kCaughtUp; }, 10s));
  s = f.runner->Status();
  CHECK(s.min_position == last);
  CHECK_FALSE(s.database_error);
  CHECK(s.stopped.empty());
  CHECK(s.dead_letters == 0);
  CHECK(f.dead_letters->letters().empty());
  auto applied = f.sink.applied();
  std::vector<std::int64_t> expected;
  for (std::int64_t p = 1; p <= last; ++p) expected.push_back(p);
  CHECK(applied == expected);  // every event once, in order
}

TEST_CASE("a handler error is still counted against the policy: skip dead-letters the event", "[runner][errors]") {
  FlakyFixture f(/*transactional=*/true, [] { throw std::runtime_error("bad payload"); });
  const auto only = f.reader->Append(0, "agg");
  f.runner->Start();
  f.mark.Publish(only);
  f.runner->Take(4, {Checkpoint{{"rs", "flaky", 0}, 0, 1, "w1"}});
  REQUIRE(WaitFor([&] { return f.runner->Status().dead_letters == 1; }, 10s));
  const auto s = f.runner->Status();
  CHECK(s.database_errors == 0);
  CHECK_FALSE(s.database_error);
  REQUIRE(f.dead_letters->letters().size() == 1);
  CHECK(f.dead_letters->letters()[0].global_position == only);
  CHECK(f.sink.attempts() == 2);  // the policy's attempts, then the dead letter
}

TEST_CASE("a unit whose transaction fails on the database (disk full) is retried, never dead-lettered",
          "[runner][errors][units]") {
  FlakyFixture f(/*transactional=*/true, [] {});
  f.sink.Heal();
  using B = projd::testing::FakeCheckpointStore::Behaviour;
  f.store.Script({B::kPermanent, B::kPermanent, B::kPermanent, B::kTransient, B::kNotAnError});  // 5 failures
  std::int64_t last = 0;
  for (int i = 0; i < 3; ++i) last = f.reader->Append(0, "agg");
  f.runner->Start();
  f.mark.Publish(last);
  f.runner->Take(4, {Checkpoint{{"rs", "flaky", 0}, 0, 1, "w1"}});
  REQUIRE(WaitFor([&] { return f.runner->Status().state == RunnerState::kCaughtUp; }, 10s));
  const auto s = f.runner->Status();
  CHECK(s.min_position == last);
  CHECK(s.database_errors == 5);
  CHECK(s.dead_letters == 0);
  CHECK(s.stopped.empty());
  CHECK(f.sink.applied() == std::vector<std::int64_t>{1, 2, 3});
}
