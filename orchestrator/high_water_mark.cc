#include "orchestrator/high_water_mark.h"

#include <algorithm>

namespace projd {

std::int64_t HighWaterMark::Observe(const PositionObservation& obs, TimePoint now) {
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
    GapInfo& gap = gaps_.try_emplace(p, GapInfo{p, now, std::nullopt, false}).first->second;
    // xmin >= x2: every transaction that had an id when x2 was taken has ended, and p is
    // still absent, so p is permanent.
    if (gap.proof_xid && obs.snapshot_xmin >= *gap.proof_xid) gap.proven = true;
    if (!gap.proven && !blocked_at) blocked_at = p;
  }
  mark_ = std::max(mark_, blocked_at ? *blocked_at - 1 : obs.upper);
  gaps_.erase(gaps_.begin(), gaps_.upper_bound(mark_));
  return mark_;
}

bool HighWaterMark::NeedsXidBound(TimePoint now) const {
  for (const auto& [p, g] : gaps_) {
    if (!g.proven && !g.proof_xid && now - g.first_seen >= grace_) return true;
  }
  return false;
}

void HighWaterMark::RecordXidBound(std::uint64_t xid_bound, TimePoint now) {
  for (auto& [p, g] : gaps_) {
    if (!g.proven && !g.proof_xid && now - g.first_seen >= grace_) g.proof_xid = xid_bound;
  }
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
