// DeadLetterStore: poison events a projection with the `skip` policy set aside, and the
// later events of the same stream parked behind them (projd_dead_letters). A stream is the
// full identity (bounded_context, aggregate_type, aggregate_id): parking never spreads to
// another type or bounded context that happens to use the same aggregate id. Records are
// written inside the unit transaction that moves the checkpoint past them, so an event is
// either handled, or dead-lettered, never both and never neither.
// Not thread-safe: one per runner.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/reading/stream_id.h"
#include "orchestrator/persistence/transaction_handle.h"

namespace projd {

struct DeadLetter {
  std::string replica_set;
  std::string projection;
  std::int64_t global_position = 0;
  StreamId stream;
  std::string event_type;
  bool parked = false;  // false: the poison event itself; true: parked behind one
  std::string error;
  int attempts = 0;
};

class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;
  // Adds the records in the given (open) transaction.
  virtual void Record(TransactionHandle& tx, const std::vector<DeadLetter>& letters) = 0;
  // Streams with dead letters not yet replayed (their new events must be parked).
  virtual std::set<StreamId> ParkedStreams(const std::string& replica_set, const std::string& projection) = 0;
};

}  // namespace projd
