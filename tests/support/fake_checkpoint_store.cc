#include "tests/support/fake_checkpoint_store.h"

#include <optional>
#include <vector>

#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/unit_check.h"

namespace projd::testing {
namespace {
class NullTransactionHandle final : public TransactionHandle {};
}  // namespace

void FakeCheckpointStore::Script(std::initializer_list<Behaviour> b) {
  std::lock_guard lock(mu_);
  script_.insert(script_.end(), b.begin(), b.end());
}

void FakeCheckpointStore::Lock(const CheckpointKey& key) {
  std::lock_guard lock(mu_);
  locked_.insert(key);
}

void FakeCheckpointStore::Unlock(const CheckpointKey& key) {
  std::lock_guard lock(mu_);
  locked_.erase(key);
}

void FakeCheckpointStore::StampGeneration(const CheckpointKey& key, std::int64_t generation) {
  std::lock_guard lock(mu_);
  auto& row = rows_[key];
  row.key = key;
  row.generation = std::max(row.generation, generation);
}

FakeCheckpointStore::Behaviour FakeCheckpointStore::Next(std::chrono::milliseconds timeout) {
  Behaviour b = Behaviour::kOk;
  {
    std::lock_guard lock(mu_);
    if (!script_.empty()) {
      b = script_.front();
      script_.pop_front();
    }
  }
  if (clock_) clock_->Advance(b == Behaviour::kHang ? timeout : latency_);
  return b;
}

bool FakeCheckpointStore::Apply(const Checkpoint& cp) {
  auto it = rows_.find(cp.key);
  if (it != rows_.end() && it->second.generation > cp.generation) return false;
  if (it == rows_.end()) {
    rows_[cp.key] = cp;
  } else {
    it->second.position = std::max(it->second.position, cp.position);
    it->second.generation = cp.generation;
    it->second.writer = cp.writer;
  }
  return true;
}

WriteOutcome FakeCheckpointStore::WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) {
  const auto b = Next(timeout);
  std::lock_guard lock(mu_);
  ++batches_;
  rows_written_ += static_cast<int>(batch.size());
  batch_sizes_.push_back(batch.size());
  if (b == Behaviour::kTransient) throw TransientError("fake: connection refused");
  if (b == Behaviour::kHang) throw InDoubtError("fake: no reply within the deadline");
  if (b == Behaviour::kPermanent) throw PermanentError("fake: could not extend file: No space left on device");
  if (b == Behaviour::kNotAnError) throw std::logic_error("fake: not a database error");
  WriteOutcome out;
  for (const auto& cp : batch) {
    if (!Apply(cp)) out.fenced.push_back(cp.key);
  }
  if (b == Behaviour::kCommittedReplyLost) throw InDoubtError("fake: committed, reply lost");
  return out;
}

UnitOutcome FakeCheckpointStore::CommitUnit(const TransactionalUnit& unit, std::chrono::milliseconds timeout) {
  const auto b = Next(timeout);
  std::lock_guard lock(mu_);
  ++units_;
  if (b == Behaviour::kTransient) throw TransientError("fake: connection refused");
  if (b == Behaviour::kHang) throw InDoubtError("fake: no reply within the deadline");
  if (b == Behaviour::kPermanent) throw PermanentError("fake: could not extend file: No space left on device");
  if (b == Behaviour::kNotAnError) throw std::logic_error("fake: not a database error");
  std::vector<std::optional<StoredPosition>> rows;
  for (const auto& cp : unit.checkpoints) {
    const auto it = rows_.find(cp.key);
    rows.push_back(it == rows_.end() ? std::nullopt
                                     : std::optional<StoredPosition>({it->second.generation, it->second.position}));
  }
  if (const auto outcome = CheckUnit(unit, rows)) return *outcome;
  if (unit.apply) {
    NullTransactionHandle handle;
    try {
      unit.apply(handle);
    } catch (const Error&) {
      throw;  // a database error inside the unit
    } catch (const HandlerError&) {
      throw;
    } catch (const std::exception& e) {
      throw HandlerError(e.what());
    }
  }
  for (const auto& cp : unit.checkpoints) Apply(cp);
  if (b == Behaviour::kCommittedReplyLost) throw InDoubtError("fake: connection lost while committing");
  return UnitOutcome::kCommitted;
}

StampResult FakeCheckpointStore::Stamp(const std::string& replica_set, const std::vector<std::string>& projections,
                                       const std::vector<int>& partitions, std::int64_t generation,
                                       const std::string& writer) {
  std::lock_guard lock(mu_);
  if (fail_next_stamp_) {
    fail_next_stamp_ = false;
    throw TransientError("stamp partitions: not connected");
  }
  StampResult out;
  for (const auto& p : projections) {
    for (int part : partitions) {
      const CheckpointKey key{replica_set, p, part};
      if (locked_.count(key)) {
        out.busy.push_back(key);
        continue;
      }
      auto& row = rows_[key];
      row.key = key;
      if (row.generation > generation) {
        out.lost.push_back(key);
        continue;
      }
      row.generation = generation;
      row.writer = writer;
      out.taken.push_back(row);
    }
  }
  return out;
}

std::vector<Checkpoint> FakeCheckpointStore::Read(const std::string& replica_set, const std::string& projection) {
  std::lock_guard lock(mu_);
  std::vector<Checkpoint> out;
  for (const auto& [k, cp] : rows_) {
    if (k.replica_set == replica_set && k.projection == projection) out.push_back(cp);
  }
  return out;
}

std::optional<Checkpoint> FakeCheckpointStore::Row(const CheckpointKey& key) const {
  std::lock_guard lock(mu_);
  auto it = rows_.find(key);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

int FakeCheckpointStore::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

int FakeCheckpointStore::rows_written() const {
  std::lock_guard lock(mu_);
  return rows_written_;
}

std::vector<std::size_t> FakeCheckpointStore::batch_sizes() const {
  std::lock_guard lock(mu_);
  return batch_sizes_;
}

int FakeCheckpointStore::units() const {
  std::lock_guard lock(mu_);
  return units_;
}

}  // namespace projd::testing
