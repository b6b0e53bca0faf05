// Unit lanes of the persistence core: a lane per transactional projection commits on its
// own store (connection), in parallel with flushes and with the other lanes.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "orchestrator/persistence/persistence_core.h"
#include "tests/support/fake_checkpoint_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::PersistenceCore;
using projd::TransactionalUnit;
using projd::UnitResult;

namespace {
Checkpoint Cp(const std::string& projection, int partition, std::int64_t position) {
  return {{"rs", projection, partition}, position, 1, "w1"};
}
projd::PersistenceOptions Options() {
  projd::PersistenceOptions o;
  o.interval = 1h;
  o.timeout = 200ms;
  return o;
}
struct Lanes {
  projd::testing::FakeClock clock;
  projd::testing::FakeCheckpointStore core_store{&clock}, store_a{&clock}, store_b{&clock};
  PersistenceCore core{core_store, clock, Options()};
  PersistenceCore::LaneId a = core.AddLane(store_a);
  PersistenceCore::LaneId b = core.AddLane(store_b);
};
}  // namespace

TEST_CASE("a hanging unit on its lane holds up neither checkpoint flushes nor another projection's lane",
          "[persistence][units]") {
  Lanes l;
  l.core.Start();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> entered{false};
  TransactionalUnit hanging;
  hanging.checkpoints = {Cp("a", 1, 10)};
  hanging.apply = [&](projd::TransactionHandle&) {
    entered = true;
    released.wait();  // a Handle that hangs (a lock, a slow statement)
  };
  auto hung = l.core.SubmitUnit(std::move(hanging), l.a);
  REQUIRE(projd::testing::WaitFor([&] { return entered.load(); }, 10s));

  TransactionalUnit other;
  other.checkpoints = {Cp("b", 1, 20)};
  auto committed = l.core.SubmitUnit(std::move(other), l.b);
  REQUIRE(committed.wait_for(10s) == std::future_status::ready);
  CHECK(committed.get() == UnitResult::kCommitted);
  CHECK(l.store_b.Row({"rs", "b", 1})->position == 20);

  REQUIRE(l.core.Submit(Cp("async", 1, 30)).ok());
  CHECK(l.core.ForcePersistence(10s) == projd::ForceResult::kOk);
  CHECK(l.core_store.Row({"rs", "async", 1})->position == 30);

  CHECK(hung.wait_for(0ms) == std::future_status::timeout);  // still hanging, alone
  release.set_value();
  CHECK(hung.get() == UnitResult::kCommitted);
  CHECK(l.store_a.Row({"rs", "a", 1})->position == 10);
}

TEST_CASE("a lane commits its units in submission order", "[persistence][units]") {
  Lanes l;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::future<UnitResult>> results;
  for (int i = 0; i < 20; ++i) {
    TransactionalUnit u;
    u.checkpoints = {Cp("a", 1, i + 1)};
    u.apply = [&, i](projd::TransactionHandle&) {
      std::lock_guard lock(mu);
      order.push_back(i);
    };
    results.push_back(l.core.SubmitUnit(std::move(u), l.a));  // queued before the lane starts
  }
  l.core.Start();
  for (auto& r : results) CHECK(r.get() == UnitResult::kCommitted);
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i;
  CHECK(order == expected);
  CHECK(l.store_a.Row({"rs", "a", 1})->position == 20);
  CHECK(l.core.GetStats().units_committed == 20);
}
