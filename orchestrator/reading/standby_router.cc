#include "orchestrator/reading/standby_router.h"

#include <algorithm>

#include "orchestrator/common/errors.h"

namespace projd {
namespace {

constexpr auto kFirstPoll = std::chrono::milliseconds(1);
constexpr auto kMaxPoll = std::chrono::milliseconds(20);

}  // namespace

StandbyRouter::StandbyRouter(std::unique_ptr<EventReader> primary, std::vector<std::unique_ptr<StandbySession>> standbys,
                             const WalMarks& marks, StandbyBoard& board, const Clock& clock, Sleep sleep,
                             StandbyRouterOptions options)
    : primary_(std::move(primary)),
      standbys_(std::move(standbys)),
      marks_(marks),
      board_(board),
      clock_(clock),
      sleep_(std::move(sleep)),
      options_(options),
      known_(standbys_.size()) {}

ReadResult StandbyRouter::ReadBatch(const ReadRequest& request) {
  if (request.after.empty() || request.limit <= 0) return ReadResult{{}, request.high_water_mark};
  std::int64_t lowest = request.after.begin()->second;
  for (const auto& [p, position] : request.after) lowest = std::min(lowest, position);
  if (lowest >= request.high_water_mark) return ReadResult{{}, request.high_water_mark};
  const auto n = standbys_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = (options_.first + k) % n;
    if (!board_.Usable(i)) continue;
    if (auto result = TryStandby(i, request, lowest)) return *std::move(result);
  }
  if (!options_.fallback_to_primary) {
    sleep_(options_.wait_slice);
    return Waited(lowest);
  }
  auto result = primary_->ReadBatch(request);
  board_.CountPrimaryBatch();
  plan_ = primary_->Plan();
  return result;
}

// A batch that read nothing and moves no partition: every owned position is >= lowest.
ReadResult StandbyRouter::Waited(std::int64_t lowest) {
  board_.CountWait();
  return ReadResult{{}, lowest};
}

// The highest mark standby i's session is known to serve; with `refresh`, asks it first.
std::int64_t StandbyRouter::Served(std::size_t i, bool refresh) {
  auto& known = known_[i];
  auto& session = *standbys_[i];
  if (refresh || !known.facts || known.session != session.Session()) {
    known.facts = session.Replayed();
    known.session = session.Session();
  }
  if (!known.facts->in_recovery) {
    known.facts.reset();
    throw TransientError("the standby is not in recovery (promoted)");  // the next source serves
  }
  return marks_.MarkServedBy(known.facts->replayed);
}

// nullopt: standby i failed (reported on the board); the caller tries the next source.
std::optional<ReadResult> StandbyRouter::TryStandby(std::size_t i, const ReadRequest& request, std::int64_t lowest) {
  auto& session = *standbys_[i];
  try {
    auto served = Served(i, false);
    if (served < request.high_water_mark) served = Served(i, true);
    const auto deadline = clock_.Now() + options_.wait_slice;
    for (auto delay = kFirstPoll; served <= lowest; delay = std::min(delay * 2, kMaxPoll)) {
      if (clock_.Now() >= deadline) return Waited(lowest);
      sleep_(delay);
      served = Served(i, true);
    }
    const auto probed_in = known_[i].session;
    ReadRequest capped = request;
    capped.high_water_mark = std::min(served, request.high_water_mark);
    auto result = session.ReadBatch(capped);
    // The replay position was read on this session: a read on another one proves nothing.
    if (session.Session() != probed_in) throw TransientError("the standby session changed during the read");
    board_.CountStandbyBatch(i);
    plan_ = session.Plan();
    return result;
  } catch (const std::exception& e) {
    known_[i] = Known{};
    board_.ReadFailed(i, e.what());
    return std::nullopt;
  }
}

}  // namespace projd
