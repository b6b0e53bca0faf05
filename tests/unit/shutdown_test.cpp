// The shutdown plan, its report and exit codes, and the bounded joins it rests on.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/runtime/shutdown.h"

using namespace std::chrono_literals;
using projd::ShutdownState;
using projd::ShutdownStep;

namespace {
const projd::Clock::Monotonic::time_point kSignal{std::chrono::hours(1)};
}  // namespace

TEST_CASE("the shutdown plan keeps the drain one persistence batch and deregistering a second", "[shutdown]") {
  SECTION("defaults: SHUTDOWN_TIMEOUT 15s, PERSISTENCE_TIMEOUT 5s") {
    const auto plan = projd::PlanShutdown(kSignal, 15s, 5s);
    CHECK(plan.deadline == kSignal + 15s);
    CHECK(plan.drain_by == kSignal + 14s);
    CHECK(plan.stop_by == kSignal + 9s);
  }
  SECTION("a short timeout: deregistering gets a tenth, the drain at most half of the rest") {
    const auto plan = projd::PlanShutdown(kSignal, 3s, 2s);
    CHECK(plan.deadline == kSignal + 3s);
    CHECK(plan.drain_by == kSignal + 2700ms);
    CHECK(plan.stop_by == kSignal + 1350ms);
  }
  SECTION("steps are ordered whatever the values") {
    for (const std::chrono::milliseconds total : {1ms, 10ms, 500ms, 5000ms, 86400000ms}) {
      for (const std::chrono::milliseconds persistence : {0ms, 1ms, 300ms, 5000ms, 86400000ms}) {
        const auto plan = projd::PlanShutdown(kSignal, total, persistence);
        CHECK(kSignal <= plan.stop_by);
        CHECK(plan.stop_by <= plan.drain_by);
        CHECK(plan.drain_by <= plan.deadline);
        CHECK(plan.deadline == kSignal + total);
      }
    }
  }
}

TEST_CASE("a stop exits 0 only when it drained and deregistered", "[shutdown]") {
  ShutdownState s;
  s.step = ShutdownStep::kStopped;
  s.drained = true;
  s.deregistered = true;
  CHECK(projd::ExitCodeOf(s) == 0);
  s.abandoned = {"mark follower"};  // a thread left behind after everything was saved
  CHECK(projd::ExitCodeOf(s) == 0);
  s.deregistered = false;
  CHECK(projd::ExitCodeOf(s) == projd::kExitStopIncomplete);
  s.deregistered = true;
  s.drained = false;
  CHECK(projd::ExitCodeOf(s) == projd::kExitStopIncomplete);
  CHECK(projd::kExitStopIncomplete != projd::kExitStopAbandoned);
  CHECK(projd::kExitStopIncomplete > 2);  // 1 and 2 mean runtime failure and bad usage
}

TEST_CASE("the report of a stop cut short names every step it did not finish", "[shutdown]") {
  CHECK(projd::UnfinishedSteps(ShutdownStep::kStopping) ==
        std::vector<std::string>{"stop threads", "drain", "deregister"});
  CHECK(projd::UnfinishedSteps(ShutdownStep::kDraining) == std::vector<std::string>{"drain", "deregister"});
  CHECK(projd::UnfinishedSteps(ShutdownStep::kLeaving) == std::vector<std::string>{"deregister"});
  CHECK(projd::UnfinishedSteps(ShutdownStep::kStopped).empty());

  ShutdownState s;
  s.step = ShutdownStep::kDraining;
  s.abandoned = {"coordinator", "runner stream_stats"};
  s.unflushed = 12;
  const auto fields = projd::DescribeShutdown(s);
  const auto field = [&](const std::string& k) {
    for (const auto& [key, value] : fields) {
      if (key == k) return value;
    }
    return std::string("(missing)");
  };
  CHECK(field("step") == "draining");
  CHECK(field("unfinished") == "drain,deregister");
  CHECK(field("abandoned") == "coordinator,runner stream_stats");
  CHECK(field("unflushed") == "12");
  CHECK(field("deregistered") == "false");
  CHECK(field("drained") == "false");
}

TEST_CASE("an awaitable thread is joined when it ends in time and left running when it does not", "[shutdown]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  projd::AwaitableThread blocked;
  blocked.Start([&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  CHECK_FALSE(blocked.JoinFor(50ms));
  CHECK(blocked.running());

  projd::AwaitableThread quick;
  std::atomic<bool> ran{false};
  quick.Start([&] { ran = true; });
  CHECK(quick.JoinFor(10s));
  CHECK(ran);
  CHECK_FALSE(quick.running());

  projd::AwaitableThread never_started;
  CHECK(never_started.JoinFor(0ms));

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  CHECK(blocked.JoinFor(10s));
  CHECK_FALSE(blocked.running());
}
