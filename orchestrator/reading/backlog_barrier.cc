#include "orchestrator/reading/backlog_barrier.h"

namespace projd {

void BacklogBarrier::Begin(const LastPosition& last) {
  last_ = last.position;
  history_ = last.history;
  writers_.reset();
}

std::optional<std::int64_t> BacklogBarrier::Apply(const WriterCensus& census) {
  if (!last_) return std::nullopt;
  if (census.history != history_) {
    Reset();
    return std::nullopt;
  }
  std::set<WriteLockHolder> still;
  for (const auto& h : census.holders) {
    // The first census takes every holder; later ones keep the members still holding. A
    // prepared holder may be a member that changed its id when it prepared.
    if (!writers_ || h.prepared || writers_->count(h)) still.insert(h);
  }
  writers_ = std::move(still);
  if (!writers_->empty()) return std::nullopt;
  const auto raise_to = *last_;
  Reset();
  return raise_to;
}

void BacklogBarrier::Reset() {
  last_.reset();
  history_.clear();
  writers_.reset();
}

}  // namespace projd
