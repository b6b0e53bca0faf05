// BatchSink: what a runner hands its batches to. projections/ adapts a user Projection to
// it; the orchestrator library itself stays free of libpqxx and of user code.
#pragma once

#include <chrono>
#include <span>
#include <string>

#include "orchestrator/reading/event.h"
#include "orchestrator/reading/event_reader.h"
#include "orchestrator/persistence/transaction_handle.h"

namespace projd {

// What happens when Apply/Handle keeps throwing: retries with capped exponential backoff
// and jitter, then the failing event is isolated (batches of one) and the policy applies:
// stop that partition for this projection, or skip the event into the dead letters.
struct ErrorHandling {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  bool skip = false;  // false: stop
};

class BatchSink {
 public:
  virtual ErrorHandling OnError() const { return {}; }
  virtual ~BatchSink() = default;
  // The lane key (orchestrator/versions/lane_key.h): the projection's name for version 1,
  // "name@N" for version N.
  virtual std::string Name() const = 0;
  // Where the version's read model lives (docs/projections.md, "Versions"): a schema
  // searched first by its statements, "" for the place beside projd's tables. The worker
  // changes it when a switch moves the version (thread-safe).
  virtual std::string ReadModelSchema() const { return {}; }
  virtual void SetReadModelSchema(const std::string& /*schema*/) {}
  // Transactional sinks write through Apply inside the checkpoint's transaction;
  // async sinks handle the batch first and their checkpoints are submitted afterwards.
  virtual bool Transactional() const = 0;
  virtual ReadScope Scope() const { return {}; }
  // Events per batch; 0 = the worker's BATCH_SIZE.
  virtual int BatchSize() const { return 0; }
  // What Apply/Handle throw decides who is to blame (docs/projections.md, "Errors"):
  //   projd::Error (errors.h)  - the database failed: retried with capped backoff for as
  //                              long as it lasts, never counted against the error policy;
  //   anything else            - the projection failed for these events: retried
  //                              OnError().max_attempts times, then the policy applies.
  // ProjectionSink sorts a projection's pqxx exceptions accordingly. Throwing from Apply
  // rolls the unit back.
  virtual void Apply(std::span<const Event> batch, TransactionHandle& tx) {}
  virtual void Handle(std::span<const Event> batch, bool replaying) {}
  // The worker is stopping: the batch being handled, and any later one, may end early
  // (thread-safe).
  virtual void RequestStop() {}
  // The runner is about to read a batch: an InterruptBatch from now on ends that batch, even
  // one that arrives while it is still being read (before Apply/Handle begins).
  virtual void StartBatch() {}
  // The batch being handled (or read since StartBatch) holds partitions that are being
  // handed over: it may end early (thread-safe; the next batch starts unrequested).
  virtual void InterruptBatch() {}
};

}  // namespace projd
