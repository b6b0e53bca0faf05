// PoisonIsolation: what a runner does when its projection's handler keeps failing on a
// batch (a handler error; database errors are never counted here). Each handler failure
// is an attempt; after OnError().max_attempts of them:
//  * a batch of more than one event, read while not isolating: the failing event is
//    isolated. Batches are read one event at a time (IsolatingAt) up to the failed batch's
//    last position (isolate_until), at once and with the attempts counted afresh;
//  * otherwise (a batch of one event, or one read while isolating): the error policy
//    applies to that event (skip it into the dead letters, or stop its partition); the
//    attempts and the backoff start over.
// Until then the batch is retried after RetryDelay(), the policy's capped jittered
// backoff. A delivered batch resets the attempts and the backoff. Isolation ends by itself
// once every partition read has passed isolate_until.
// Not thread-safe: the runner's thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "orchestrator/common/backoff.h"
#include "orchestrator/runtime/batch_sink.h"

namespace projd {

class PoisonIsolation {
 public:
  enum class Next {
    kRetry,        // the same batch again, after RetryDelay()
    kIsolate,      // re-read at once, one event per batch, up to isolate_until()
    kApplyPolicy,  // the error policy applies to the batch's one event
  };

  explicit PoisonIsolation(const ErrorHandling& policy);

  // Whether a batch whose lowest partition position is `lowest` is read one event at a time.
  bool IsolatingAt(std::int64_t lowest) const { return lowest < isolate_until_; }
  // The handler failed on a batch read while `isolating` (IsolatingAt when it was
  // planned), of `events` events read, the last at `last_position`.
  Next OnHandlerFailure(bool isolating, std::size_t events, std::int64_t last_position);
  // The wait before a kRetry.
  std::chrono::milliseconds RetryDelay() { return backoff_.Next(); }
  // A batch was delivered: the attempts and the backoff start over.
  void OnSuccess();
  // A restarted runner loop: the backoff starts over (the attempts and isolate_until stay).
  void RestartBackoff() { backoff_.Reset(); }

  int attempts() const { return attempts_; }
  std::int64_t isolate_until() const { return isolate_until_; }

 private:
  const int max_attempts_;
  Backoff backoff_;
  int attempts_ = 0;
  std::int64_t isolate_until_ = 0;  // read one event per batch up to this position
};

}  // namespace projd
