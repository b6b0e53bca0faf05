// PoisonIsolation: the runner's decisions on handler failures (retry, isolate, apply the
// policy), its bound and its backoff, without threads.
#include <catch2/catch.hpp>

#include "orchestrator/runtime/poison_isolation.h"

using namespace std::chrono_literals;
using projd::PoisonIsolation;
using Next = projd::PoisonIsolation::Next;

namespace {

projd::ErrorHandling Policy(int max_attempts) { return {max_attempts, 10ms, 10s, /*skip=*/true}; }

}  // namespace

TEST_CASE("isolation with max_attempts 1: a failing batch of several events is isolated at once, its event then "
          "gets the policy",
          "[runner][isolation]") {
  PoisonIsolation iso(Policy(1));
  CHECK_FALSE(iso.IsolatingAt(0));
  CHECK(iso.OnHandlerFailure(/*isolating=*/false, 5, 50) == Next::kIsolate);
  CHECK(iso.isolate_until() == 50);
  CHECK(iso.attempts() == 0);
  CHECK(iso.IsolatingAt(0));
  // Batches of one event up to 50; the first failure of one applies the policy.
  CHECK(iso.OnHandlerFailure(/*isolating=*/true, 1, 3) == Next::kApplyPolicy);
  CHECK(iso.attempts() == 0);
  CHECK(iso.isolate_until() == 50);  // the bound stays: the events after the poison are read one by one too
}

TEST_CASE("isolation with max_attempts 3: retried twice, then isolated, then retried twice, then the policy",
          "[runner][isolation]") {
  PoisonIsolation iso(Policy(3));
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.attempts() == 1);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.isolate_until() == 0);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kIsolate);
  CHECK(iso.isolate_until() == 40);
  CHECK(iso.attempts() == 0);  // counted afresh on the isolated event
  CHECK(iso.OnHandlerFailure(true, 1, 2) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(true, 1, 2) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(true, 1, 2) == Next::kApplyPolicy);
  CHECK(iso.attempts() == 0);
}

TEST_CASE("a failing batch of one event gets the policy directly, without isolating", "[runner][isolation]") {
  SECTION("max_attempts 1") {
    PoisonIsolation iso(Policy(1));
    CHECK(iso.OnHandlerFailure(false, 1, 7) == Next::kApplyPolicy);
    CHECK(iso.isolate_until() == 0);
  }
  SECTION("max_attempts 3") {
    PoisonIsolation iso(Policy(3));
    CHECK(iso.OnHandlerFailure(false, 1, 7) == Next::kRetry);
    CHECK(iso.OnHandlerFailure(false, 1, 7) == Next::kRetry);
    CHECK(iso.OnHandlerFailure(false, 1, 7) == Next::kApplyPolicy);
    CHECK(iso.isolate_until() == 0);
    CHECK_FALSE(iso.IsolatingAt(0));
  }
}

TEST_CASE("a batch read while isolating is never isolated again", "[runner][isolation]") {
  PoisonIsolation iso(Policy(1));
  REQUIRE(iso.OnHandlerFailure(false, 3, 30) == Next::kIsolate);
  // Even if such a batch held more than one event, its failure applies the policy and
  // keeps the bound.
  CHECK(iso.OnHandlerFailure(true, 2, 12) == Next::kApplyPolicy);
  CHECK(iso.isolate_until() == 30);
}

TEST_CASE("isolation ends once the lowest position has passed isolate_until", "[runner][isolation]") {
  PoisonIsolation iso(Policy(1));
  REQUIRE(iso.OnHandlerFailure(false, 10, 110) == Next::kIsolate);
  CHECK(iso.IsolatingAt(100));
  CHECK(iso.IsolatingAt(109));
  CHECK_FALSE(iso.IsolatingAt(110));  // every event up to the failed batch's end is processed
  CHECK_FALSE(iso.IsolatingAt(111));
  // A later failing batch beyond the bound isolates anew, up to its own end.
  CHECK(iso.OnHandlerFailure(false, 4, 130) == Next::kIsolate);
  CHECK(iso.IsolatingAt(120));
}

TEST_CASE("a delivered batch resets the attempts and the handler's backoff", "[runner][isolation]") {
  PoisonIsolation iso(Policy(3));
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  for (int i = 0; i < 3; ++i) iso.RetryDelay();  // ceilings 10, 20, 40 ms: the next is >= 40 ms
  iso.OnSuccess();
  CHECK(iso.attempts() == 0);
  CHECK(iso.RetryDelay() <= 10ms);  // from the initial backoff again
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kIsolate);  // three failures in a row, not five
}

TEST_CASE("the handler's backoff starts over when the policy applies, not when isolating", "[runner][isolation]") {
  PoisonIsolation iso(Policy(2));
  for (int i = 0; i < 3; ++i) iso.RetryDelay();
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(false, 4, 40) == Next::kIsolate);
  CHECK(iso.RetryDelay() >= 40ms);  // the 4th delay, within [40, 80] ms: not reset
  CHECK(iso.OnHandlerFailure(true, 1, 5) == Next::kRetry);
  CHECK(iso.OnHandlerFailure(true, 1, 5) == Next::kApplyPolicy);
  CHECK(iso.RetryDelay() <= 10ms);
  for (int i = 0; i < 3; ++i) iso.RetryDelay();
  iso.RestartBackoff();  // a restarted runner loop
  CHECK(iso.RetryDelay() <= 10ms);
}
