// Worker::Shutdown with in-memory parts: a projection handler that never returns costs the
// stop its share of SHUTDOWN_TIMEOUT, no more; the drain and the deregistration still run.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "orchestrator/common/wake_signal.h"
#include "orchestrator/runtime/worker.h"
#include "tests/support/fake_checkpoint_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_coordination_store.h"
#include "tests/support/fake_event_reader.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;

namespace {

constexpr int kEvents = 40;
constexpr int kPartitions = 4;

// Every position up to kEvents is visible: the mark is kEvents.
class AllVisible final : public projd::PositionSource {
 public:
  projd::PositionObservation Observe(std::int64_t, std::int64_t, projd::WithWriters) override {
    projd::PositionObservation o;
    o.upper = kEvents;
    o.history = "h";
    return o;
  }
  projd::LastPosition ReadLastPosition() override { return {kEvents, "h", false}; }
  projd::WriterCensus ReadWriters() override { return {{}, "h"}; }
  std::optional<projd::HoldingTransaction> OldestWriter(const std::vector<projd::WriteLockHolder>&) override {
    return std::nullopt;
  }
  projd::StoredMark LoadProvenMark() override { return {0, "h"}; }
  void SaveProvenMark(std::int64_t, const std::string&) override {}
};

// An async projection; with `gate` its Handle blocks until the gate opens.
class Sink final : public projd::BatchSink {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false;
    bool open = false;
  };
  Sink(std::string name, Gate* gate) : name_(std::move(name)), gate_(gate) {}
  std::string Name() const override { return name_; }
  bool Transactional() const override { return false; }
  void Handle(std::span<const projd::Event>, bool) override {
    if (!gate_) return;
    std::unique_lock lock(gate_->mu);
    gate_->entered = true;
    gate_->cv.notify_all();
    gate_->cv.wait(lock, [&] { return gate_->open; });
  }

 private:
  std::string name_;
  Gate* gate_;
};

// A notification wait that never gets one: returns after its timeout.
bool NoNotification(std::chrono::milliseconds timeout) {
  projd::WakeSignal never;
  return never.WaitFor(never.version(), timeout);
}

}  // namespace

TEST_CASE("a worker's stop with a handler that never returns ends on plan, drained and deregistered",
          "[worker][shutdown]") {
  projd::testing::FakeClock database_clock;  // the coordination store's "now()"
  projd::SystemClock clock;
  Sink::Gate gate;

  projd::WorkerParts parts;
  auto coordination = std::make_unique<projd::testing::FakeCoordinationStore>(database_clock);
  auto* members = coordination.get();
  parts.coordination = std::move(coordination);
  parts.stamp_store = std::make_unique<projd::testing::FakeCheckpointStore>();
  auto checkpoints = std::make_unique<projd::testing::FakeCheckpointStore>();
  auto* durable = checkpoints.get();
  parts.checkpoint_store = std::move(checkpoints);
  parts.positions = std::make_unique<AllVisible>();
  parts.wait_for_events = NoNotification;
  parts.wait_for_generation = NoNotification;
  parts.make_reader = [] {
    auto reader = std::make_unique<projd::testing::FakeEventReader>();
    for (int i = 0; i < kEvents; ++i) reader->Append(i % kPartitions, "a" + std::to_string(i));
    return reader;
  };
  parts.sinks.push_back(std::make_unique<Sink>("hanging", &gate));
  parts.sinks.push_back(std::make_unique<Sink>("quick", nullptr));

  projd::Config config;
  config.replica_set = "rs";
  config.partitions = kPartitions;
  config.heartbeat_interval = 50ms;
  config.poll_interval = 50ms;
  config.gap_grace = 50ms;
  config.persistence_interval = 1h;  // checkpoints stay pending until the final drain
  config.persistence_timeout = 200ms;
  projd::WorkerInfo info;
  info.worker_id = "w-1";
  info.worker_name = "w1";

  std::ostringstream log;
  projd::Logger logger(
      std::make_shared<spdlog::logger>("worker", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)),
      projd::LogFormat::kText);
  projd::Worker worker(std::move(parts), config, info, clock, logger);
  worker.Start();

  // The join grace passes on the store's clock; then the worker takes every partition.
  const auto quick_done = [&] {
    for (const auto& r : worker.Status().runners) {
      if (r.projection == "quick") return r.events_processed == kEvents;
    }
    return false;
  };
  REQUIRE(projd::testing::WaitFor(
      [&] {
        database_clock.Advance(100ms);
        std::lock_guard lock(gate.mu);
        return gate.entered && quick_done();
      },
      20s));
  REQUIRE(worker.Status().persistence.pending_count == kPartitions);

  const auto plan = projd::PlanShutdown(clock.Now(), 1s, config.persistence_timeout);
  auto stopping = std::async(std::launch::async, [&] { return worker.Shutdown(plan); });
  // A bound on waiting, far above the plan's second: the stop must not wait for the handler.
  REQUIRE(stopping.wait_for(20s) == std::future_status::ready);
  const auto state = stopping.get();
  CHECK(state.step == projd::ShutdownStep::kStopped);
  CHECK(state.abandoned == std::vector<std::string>{"runner hanging"});
  CHECK(state.drained);
  CHECK(state.unflushed == 0);
  CHECK(state.deregistered);
  CHECK(projd::ExitCodeOf(state) == 0);
  CHECK_FALSE(members->HasMember("w-1"));
  for (int p = 0; p < kPartitions; ++p) CHECK(durable->Row({"rs", "quick", p}).has_value());
  CHECK_THAT(log.str(), Catch::Contains("worker stopped; threads still inside calls were left behind"));
  CHECK_THAT(log.str(), Catch::Contains("abandoned=\"runner hanging\""));

  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();  // the runner's thread ends; the worker's destructor joins it
}
