#include "orchestrator/reading/high_water_mark.h"

#include <algorithm>

namespace projd {

std::int64_t HighWaterMark::Observe(const PositionObservation& obs, TimePoint now) {
  const std::uint64_t observation = ++observations_;
  if (obs.upper <= mark_) return mark_;
  // Gaps within the examined range that are no longer missing have filled: read them.
  for (auto it = gaps_.begin(); it != gaps_.end() && it->first <= obs.upper;) {
    if (std::binary_search(obs.missing.begin(), obs.missing.end(), it->first)) {
      ++it;
    } else {
      it = gaps_.erase(it);
    }
  }
  std::optional<std::int64_t> blocked_at;
  for (const std::int64_t p : obs.missing) {
    if (p <= mark_) continue;
    GapInfo& gap = gaps_.try_emplace(p, GapInfo{p, now, observation, std::nullopt, false, false}).first->second;
    // Its writers had all ended before this snapshot was taken, and p is still absent.
    if (gap.writers_ended) gap.proven = true;
    // Writers are recorded only for a gap seen by an earlier statement: its position was
    // allocated before this statement started, so its writer held the lock by then.
    if (obs.writers && gap.first_observation < observation) TrackWriters(gap, *obs.writers, now);
    if (!gap.proven && !blocked_at) blocked_at = p;
  }
  mark_ = std::max(mark_, blocked_at ? *blocked_at - 1 : obs.upper);
  DropBelowMark();
  return mark_;
}

void HighWaterMark::TrackWriters(GapInfo& gap, const std::vector<WriteLockHolder>& holders,
                                 TimePoint now) const {
  if (gap.proven || gap.writers_ended || now - gap.first_seen < grace_) return;
  std::set<WriteLockHolder> still;
  for (const auto& h : holders) {
    // The first record takes every holder; later ones keep the members still holding. A
    // prepared holder may be a member that changed its id when it prepared.
    if (!gap.writers || h.prepared || gap.writers->count(h)) still.insert(h);
  }
  gap.writers = std::move(still);
  gap.writers_ended = gap.writers->empty();
}

void HighWaterMark::DropBelowMark() {
  const auto end = gaps_.upper_bound(mark_);
  for (auto it = gaps_.begin(); it != end; ++it) {
    if (it->second.proven) ++passed_proven_;
  }
  gaps_.erase(gaps_.begin(), end);
}

bool HighWaterMark::NeedsWriters(TimePoint now) const {
  return std::any_of(gaps_.begin(), gaps_.end(), [&](const auto& entry) {
    const GapInfo& g = entry.second;
    return !g.proven && !g.writers_ended && now - g.first_seen >= grace_;
  });
}

bool HighWaterMark::ProofDue() const {
  return std::any_of(gaps_.begin(), gaps_.end(),
                     [](const auto& entry) { return entry.second.writers_ended && !entry.second.proven; });
}

void HighWaterMark::Raise(std::int64_t proven) {
  if (proven <= mark_) return;
  mark_ = proven;
  gaps_.erase(gaps_.begin(), gaps_.upper_bound(mark_));
}

std::vector<GapInfo> HighWaterMark::gaps() const {
  std::vector<GapInfo> out;
  for (const auto& [p, g] : gaps_) {
    if (!g.proven) out.push_back(g);
  }
  return out;
}

std::chrono::milliseconds HighWaterMark::OldestGapAge(TimePoint now) const {
  std::chrono::milliseconds oldest{0};
  for (const auto& g : gaps()) {
    oldest = std::max(oldest, std::chrono::duration_cast<std::chrono::milliseconds>(now - g.first_seen));
  }
  return oldest;
}

std::optional<GapInfo> HighWaterMark::blocking_gap() const {
  const auto open = gaps();
  if (open.empty()) return std::nullopt;
  return open.front();
}

}  // namespace projd
