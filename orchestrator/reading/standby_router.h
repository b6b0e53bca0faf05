// StandbyRouter: an EventReader that reads each batch from a hot standby of EVENTS_READ_URL
// when one can serve it, and from the primary otherwise (docs/reading.md, "Reading from hot
// standbys").
//
// A standby serves a request up to the highest proven mark whose WAL position (recorded
// with the mark by the follower, WalMarks) it has replayed, found by a statement on the
// reader's own session before the read: a mark it has not replayed yet is never read there,
// so no event is skipped. When it has replayed nothing new for the positions asked, the
// read waits up to `wait_slice` for it and returns an empty batch (no progress) if it is
// still behind; the runner asks again. Standbys are tried in their order from `first`;
// one that is not usable on the board (down, lagging past STANDBY_MAX_LAG, promoted,
// another history) or whose read fails is skipped. With no standby able to serve, the
// batch is read from the primary (STANDBY_FALLBACK=primary) or not at all after a wait
// (STANDBY_FALLBACK=wait). Not thread-safe: one runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/reading/event_reader.h"
#include "orchestrator/reading/standby_board.h"
#include "orchestrator/reading/wal_marks.h"

namespace projd {

// An EventReader on a standby whose session can report how far it has replayed.
class StandbySession : public EventReader {
 public:
  // How far this reader's session (opened when needed) has replayed, by a statement of its
  // own. Throws projd::Error.
  virtual StandbyFacts Replayed() = 0;
  // Changes whenever the reader opens a new session.
  virtual std::uint64_t Session() const = 0;
};

struct StandbyRouterOptions {
  bool fallback_to_primary = true;              // STANDBY_FALLBACK=primary
  std::chrono::milliseconds wait_slice{200};    // one read's wait for a standby to replay
  std::size_t first = 0;                        // the standby tried first
};

class StandbyRouter final : public EventReader {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  StandbyRouter(std::unique_ptr<EventReader> primary, std::vector<std::unique_ptr<StandbySession>> standbys,
                const WalMarks& marks, StandbyBoard& board, const Clock& clock, Sleep sleep,
                StandbyRouterOptions options);

  ReadResult ReadBatch(const ReadRequest& request) override;
  std::string Plan() const override { return plan_; }

 private:
  struct Known {  // what one session of a standby reported
    std::uint64_t session = 0;
    std::optional<StandbyFacts> facts;
  };
  std::optional<ReadResult> TryStandby(std::size_t i, const ReadRequest& request, std::int64_t lowest);
  std::int64_t Served(std::size_t i, bool refresh);
  ReadResult Waited(std::int64_t lowest);

  std::unique_ptr<EventReader> primary_;
  std::vector<std::unique_ptr<StandbySession>> standbys_;
  const WalMarks& marks_;
  StandbyBoard& board_;
  const Clock& clock_;
  Sleep sleep_;
  StandbyRouterOptions options_;
  std::vector<Known> known_;
  std::string plan_;
};

}  // namespace projd
