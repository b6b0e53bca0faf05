// FakeDeadLetterStore: an in-memory DeadLetterStore for unit tests of the runner. Records
// land at once (the fake unit has no rollback after apply); ParkedStreams is every stream
// with a record, like the Postgres store before any replay. Thread-safe: the runner
// records from the persistence core's thread while a test reads.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/persistence/dead_letter_store.h"

namespace projd::testing {

class FakeDeadLetterStore final : public DeadLetterStore {
 public:
  void Record(TransactionHandle&, const std::vector<DeadLetter>& letters) override {
    std::lock_guard lock(mu_);
    letters_.insert(letters_.end(), letters.begin(), letters.end());
  }
  std::set<StreamId> ParkedStreams(const std::string& replica_set, const std::string& projection) override {
    std::lock_guard lock(mu_);
    std::set<StreamId> out;
    for (const auto& l : letters_) {
      if (l.replica_set == replica_set && l.projection == projection) out.insert(l.stream);
    }
    return out;
  }

  // A dead letter written before the runner started (another worker, an earlier run).
  void Preload(DeadLetter letter) {
    std::lock_guard lock(mu_);
    letters_.push_back(std::move(letter));
  }
  // Deletes every record above `position` (what a reset back does).
  void DeleteAbove(std::int64_t position) {
    std::lock_guard lock(mu_);
    std::erase_if(letters_, [&](const DeadLetter& l) { return l.global_position > position; });
  }
  std::vector<DeadLetter> letters() const {
    std::lock_guard lock(mu_);
    return letters_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<DeadLetter> letters_;
};

}  // namespace projd::testing
