// CheckpointStore: the durable side of the persistence core (projd_checkpoints).
//
// Every write is fenced by generation: a row stamped or written under a newer generation
// rejects older writers, and within one generation a position never moves backwards.
// A fenced key is an expected outcome (a value), not an error.
// Errors: TransientError (retry; counts as a failed batch), InDoubtError (timeout or lost
// reply: the batch may or may not have committed; writes are idempotent, so retry),
// PermanentError (disk full, a read-only server, no privilege: the core still retries with
// backoff). Every projd::Error is a database failure. CommitUnit also throws HandlerError
// when unit.apply failed for a reason of its own (never for a database error).
// Implementations need not be thread-safe: the core calls one store from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/persistence/transaction_handle.h"

namespace projd {

struct WriteOutcome {
  std::vector<CheckpointKey> fenced;  // keys a newer generation owns; everything else committed
};

// Read-model writes plus the checkpoints they reach, committed in one transaction.
struct TransactionalUnit {
  std::vector<Checkpoint> checkpoints;
  // For each checkpoint, the position its batch was read from: the unit applies only when
  // every row is still there (compare-and-set). Empty: not checked.
  std::vector<std::int64_t> from;
  std::function<void(TransactionHandle&)> apply;
};

// kCommitted: applied now, or every row already at its target (a retry of a unit whose
// reply was lost). kFenced: a newer generation owns a row. kMoved: not every row is at its
// target and some row of this generation is not at `from` (an earlier unit whose outcome
// was in doubt did commit): nothing applied; re-read the positions before the next batch.
enum class UnitOutcome { kCommitted, kFenced, kMoved };

struct StampResult {
  std::vector<Checkpoint> taken;     // rows now stamped with the generation, with positions
  std::vector<CheckpointKey> lost;   // a newer generation already stamped these
  // Locked by another transaction (the previous owner's batch is still committing, or its
  // worker hangs inside one): neither taken nor lost; the caller tries again later.
  std::vector<CheckpointKey> busy;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // Writes a batch (distinct keys) in one transaction within `timeout`.
  virtual WriteOutcome WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) = 0;

  // Runs unit.apply and the fenced checkpoint writes in one transaction within `timeout`.
  // An exception from unit.apply that is neither a projd::Error nor a database driver error
  // is rethrown as HandlerError (the transaction rolls back). kFenced: some checkpoint was fenced and the whole unit rolled back. kMoved: see above.
  virtual UnitOutcome CommitUnit(const TransactionalUnit& unit, std::chrono::milliseconds timeout) = 0;

  // Takes partitions under `generation` for the given projections in one transaction:
  // missing rows are created at position 0, rows are locked, stamped with the generation
  // and their positions returned. Rows stamped by a newer generation are reported lost.
  // Never waits for a row another transaction holds: such rows are reported busy, so a
  // worker hanging inside a batch cannot stall the caller (the coordinator's heartbeat).
  virtual StampResult Stamp(const std::string& replica_set, const std::vector<std::string>& projections,
                            const std::vector<int>& partitions, std::int64_t generation,
                            const std::string& writer) = 0;

  // All checkpoints of a projection in a replica set.
  virtual std::vector<Checkpoint> Read(const std::string& replica_set, const std::string& projection) = 0;
};

}  // namespace projd
