// FakeCheckpointStore: an in-memory CheckpointStore with scripted failures, for unit tests
// of the persistence core. Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "orchestrator/persistence/checkpoint_store.h"
#include "tests/support/fake_clock.h"

namespace projd::testing {

class FakeCheckpointStore final : public CheckpointStore {
 public:
  enum class Behaviour {
    kOk,
    kTransient,           // throws TransientError, writes nothing
    kCommittedReplyLost,  // writes, then throws InDoubtError (the reply never came)
    kHang,                // "hangs" until the deadline (advances the fake clock), then InDoubtError
    kPermanent,           // throws PermanentError (disk full, read-only server), writes nothing
    kNotAnError,          // throws a std::logic_error (a bug below the core), writes nothing
  };

  explicit FakeCheckpointStore(FakeClock* clock = nullptr) : clock_(clock) {}

  // Behaviours for the next calls, in order; afterwards kOk.
  void Script(std::initializer_list<Behaviour> b);
  // Each call advances the fake clock by this much (its "latency").
  void SetLatency(std::chrono::milliseconds l) { latency_ = l; }
  // The next Stamp() throws TransientError (a connection lost while taking partitions).
  void FailNextStamp() { fail_next_stamp_ = true; }
  // Another transaction holds the row (a previous owner inside a batch): Stamp reports it
  // busy until Unlock.
  void Lock(const CheckpointKey& key);
  void Unlock(const CheckpointKey& key);
  // Rows stamped with a generation: writers of an older one are fenced.
  void StampGeneration(const CheckpointKey& key, std::int64_t generation);

  WriteOutcome WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) override;
  UnitOutcome CommitUnit(const TransactionalUnit& unit, std::chrono::milliseconds timeout) override;
  StampResult Stamp(const std::string& replica_set, const std::vector<std::string>& projections,
                    const std::vector<int>& partitions, std::int64_t generation, const std::string& writer) override;
  std::vector<Checkpoint> Read(const std::string& replica_set, const std::string& projection) override;

  std::optional<Checkpoint> Row(const CheckpointKey& key) const;
  int batches() const;        // WriteBatch calls
  int rows_written() const;   // rows sent in WriteBatch calls
  std::vector<std::size_t> batch_sizes() const;
  int units() const;

 private:
  Behaviour Next(std::chrono::milliseconds timeout);
  bool Apply(const Checkpoint& cp);  // mu_ held; false = fenced

  FakeClock* clock_;
  mutable std::mutex mu_;
  std::deque<Behaviour> script_;
  std::chrono::milliseconds latency_{0};
  std::map<CheckpointKey, Checkpoint> rows_;
  int batches_ = 0;
  int rows_written_ = 0;
  int units_ = 0;
  bool fail_next_stamp_ = false;
  std::set<CheckpointKey> locked_;
  std::vector<std::size_t> batch_sizes_;
};

}  // namespace projd::testing
