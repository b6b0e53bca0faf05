// The projection API: what an application team implements and links into a worker.
//
// A projection turns events into a read model. Derive from TransactionalProjection (the
// default kind: its writes and the fenced checkpoint commit in one transaction, so its
// effects in Postgres happen exactly once, even with zombie workers) or from
// AsyncProjection (its own side effects; the checkpoint is submitted afterwards, so
// delivery is at-least-once and a bounded window may be replayed after a crash).
// Register it with PROJD_REGISTER_PROJECTION or a factory (projd/registry.h).
//
// Threading: the runtime creates one instance per worker process and calls it from one
// runner thread at a time; an instance need not be thread-safe.
#pragma once

#include <chrono>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <projd/event.h>
#include <projd/transaction.h>

namespace projd {

enum class ProjectionKind { kTransactional, kAsync };

// What happens to an event whose Handle keeps failing after the retries.
enum class ErrorPolicy {
  kStop,  // that projection stops on that partition; the rest goes on; /readyz says so
  kSkip,  // the event goes to projd_dead_letters; later events of its aggregate are parked
};

// Optional filters, pushed into the reader's SQL. Empty = everything.
struct ProjectionScope {
  std::vector<std::string> aggregate_types;
  std::vector<std::string> bounded_contexts;
};

// Retries of a failing batch before the error policy applies (exponential, with jitter).
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Stable name: the key of its checkpoints. Lower-case letters, digits, '_' and '-'.
  virtual std::string Name() const = 0;
  // The version of its logic (1..9999). Deploying a higher version builds the new read model
  // beside the serving one and switches readers over when it has caught up; a binary may
  // register several versions of one name (docs/projections.md, "Versions"). While a
  // version runs, unqualified table names in Setup, Handle and Reset resolve in the
  // version's own schema first (its search_path); applications read the stable names.
  virtual int Version() const { return 1; }
  virtual ProjectionKind Kind() const = 0;
  virtual ProjectionScope Scope() const { return {}; }
  virtual ErrorPolicy OnError() const { return ErrorPolicy::kStop; }
  virtual RetryPolicy Retry() const { return {}; }
  // Events per batch for this projection (1..100,000); 0 = the worker's BATCH_SIZE.
  virtual int BatchSize() const { return 0; }

  // Creates the read model's tables if they are missing. Must be idempotent: it runs at
  // every worker start, again after a transient failure, in its own transaction under a
  // per-projection advisory lock (docs/projections.md, "Setup"). Create tables unqualified:
  // they land in the version's schema.
  virtual void Setup(Transaction& /*tx*/) {}
  // Empties the read model for a rebuild (`projd rebuild NAME`). Runs in the same
  // transaction that resets the projection's checkpoints to zero.
  virtual void Reset(Transaction& /*tx*/) {}
};

class TransactionalProjection : public Projection {
 public:
  ProjectionKind Kind() const final { return ProjectionKind::kTransactional; }
  // Applies a batch (position order; per-aggregate order holds) using `tx`. Throwing
  // rolls back the batch; the runtime retries and then applies the error policy.
  // The checkpoint commits in the same transaction after this returns; `tx` cannot commit
  // or abort it (projd/transaction.h).
  virtual void Handle(std::span<const Event> batch, Transaction& tx) = 0;
};

// What an async projection learns about the batch it handles.
struct AsyncContext {
  // True while re-reading events this projection may have handled before (a rebuild, or
  // the window replayed after a crash); side effects like e-mails can be suppressed.
  bool replaying = false;
  // A connection for the projection's own writes (outside the checkpoint transaction); its
  // search_path starts with read_model_schema when that is set.
  pqxx::connection* connection = nullptr;
  // The schema of this version's read model ("" for a version 1 that was never switched
  // away from: the tables beside projd's own).
  std::string read_model_schema;
  // Requested when the worker stops or the batch's partitions are being handed over: a
  // long Handle may return early by throwing (the batch is handled again, at least once).
  std::stop_token stop;
};

class AsyncProjection : public Projection {
 public:
  ProjectionKind Kind() const final { return ProjectionKind::kAsync; }
  // Handles a batch with its own side effects. Must tolerate seeing an event again
  // (at-least-once). Throwing means the batch is retried, then the error policy applies.
  virtual void Handle(std::span<const Event> batch, AsyncContext& context) = 0;
};

}  // namespace projd
