#include "orchestrator/reading/wal_marks.h"

#include <algorithm>

namespace projd {

void WalMarks::Record(std::int64_t mark, const WalPosition& at, TimePoint now) {
  std::lock_guard lock(mu_);
  const bool same = history_ && history_->SameHistory(at);
  if (!same || (!entries_.empty() && mark < entries_.back().mark)) entries_.clear();
  history_ = at;
  if (!entries_.empty()) {
    auto& last = entries_.back();
    if (at.lsn < last.lsn) return;  // read before the last one: the last pairing is better
    if (at.lsn == last.lsn) {
      last.mark = std::max(last.mark, mark);
      return;
    }
  }
  entries_.push_back({mark, at.lsn, now});
  if (entries_.size() > capacity_) Thin();
}

// Drops every other entry of the older half: coverage stays, resolution of old marks falls.
void WalMarks::Thin() {
  const std::size_t half = entries_.size() / 2;
  std::deque<Entry> kept;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (i >= half || i % 2 == 0) kept.push_back(entries_[i]);
  }
  entries_.swap(kept);
}

std::int64_t WalMarks::MarkServedBy(const WalPosition& standby) const {
  std::lock_guard lock(mu_);
  if (!history_ || !history_->SameHistory(standby)) return 0;
  auto it = std::upper_bound(entries_.begin(), entries_.end(), standby.lsn,
                             [](std::uint64_t lsn, const Entry& e) { return lsn < e.lsn; });
  if (it == entries_.begin()) return 0;
  return std::prev(it)->mark;
}

std::optional<WalPosition> WalMarks::Latest() const {
  std::lock_guard lock(mu_);
  return history_;
}

std::chrono::milliseconds WalMarks::LagBehind(std::uint64_t replayed, TimePoint now) const {
  std::lock_guard lock(mu_);
  auto it = std::upper_bound(entries_.begin(), entries_.end(), replayed,
                             [](std::uint64_t lsn, const Entry& e) { return lsn < e.lsn; });
  if (it == entries_.end()) return std::chrono::milliseconds(0);
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(now - it->at));
}

std::size_t WalMarks::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace projd
