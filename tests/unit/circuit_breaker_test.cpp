#include <catch2/catch.hpp>

#include "orchestrator/persistence/circuit_breaker.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::BreakerState;
using projd::CircuitBreaker;

TEST_CASE("the breaker opens after the threshold of consecutive failures", "[breaker]") {
  projd::testing::FakeClock clock;
  CircuitBreaker b(clock, 3, 10s);
  b.RecordFailure();
  b.RecordFailure();
  b.RecordSuccess();  // resets the run
  b.RecordFailure();
  b.RecordFailure();
  CHECK(b.state() == BreakerState::kClosed);
  CHECK(b.Allow());
  b.RecordFailure();
  CHECK(b.state() == BreakerState::kOpen);
  CHECK(b.trips() == 1);
  CHECK_FALSE(b.Allow());
}

TEST_CASE("an open breaker lets exactly one probe through after its timeout", "[breaker]") {
  projd::testing::FakeClock clock;
  CircuitBreaker b(clock, 1, 10s);
  b.RecordFailure();
  clock.Advance(9999ms);
  CHECK_FALSE(b.Allow());
  clock.Advance(1ms);
  CHECK(b.Allow());
  CHECK(b.state() == BreakerState::kHalfOpen);
  CHECK_FALSE(b.Allow());  // one probe at a time

  SECTION("a successful probe closes it") {
    b.RecordSuccess();
    CHECK(b.state() == BreakerState::kClosed);
    CHECK(b.consecutive_failures() == 0);
    CHECK(b.Allow());
  }
  SECTION("a failed probe opens it again for another timeout") {
    b.RecordFailure();
    CHECK(b.state() == BreakerState::kOpen);
    CHECK(b.trips() == 2);
    clock.Advance(5s);
    CHECK_FALSE(b.Allow());
    clock.Advance(5s);
    CHECK(b.Allow());
  }
}

TEST_CASE("an operator reset closes the breaker at once", "[breaker]") {
  projd::testing::FakeClock clock;
  CircuitBreaker b(clock, 1, 1h);
  b.RecordFailure();
  REQUIRE(b.state() == BreakerState::kOpen);
  b.Reset();
  CHECK(b.state() == BreakerState::kClosed);
  CHECK(b.Allow());
}
