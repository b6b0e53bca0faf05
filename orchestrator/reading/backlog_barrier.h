// BacklogBarrier: proves a whole backlog of positions at once (docs/reading.md, "A backlog
// proven at once").
//
// The windowed observation of HighWaterMark visits every position above H to find the
// missing ones: about 2 µs a position, so a worker started on 100 million events not yet
// proven would read nothing for minutes. The barrier needs no enumeration. Statement S1
// reads the sequence's last value L: every position <= L had been handed out when S1 ended
// (fact 1 of the proof). A later statement S2 records W, the holders of a write lock on
// events: the writer of any position <= L took its lock before its position (fact 2), so it
// has ended or is in W (fact 3). Once a census finds no member of W holding the lock, every
// writer that could still add a position <= L has ended, so any snapshot taken from then on
// sees every position <= L that will ever exist (fact 4): H may jump to L.
//
// As in HighWaterMark, a prepared holder counts as a member of every W. A census of another
// history (the table was emptied or rewritten meanwhile) drops the barrier. Pure logic; not
// thread-safe (one owner).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "orchestrator/reading/position_source.h"

namespace projd {

class BacklogBarrier {
 public:
  // Starts a barrier at `last`, read (S1) before any census is taken.
  void Begin(const LastPosition& last);
  // Applies a census taken by a statement after Begin's. Returns the position H may be
  // raised to once every recorded writer has ended (the barrier is then finished).
  std::optional<std::int64_t> Apply(const WriterCensus& census);
  // Forgets the barrier (a new history, or H passed it on its own).
  void Reset();

  bool pending() const { return last_.has_value(); }
  std::int64_t last() const { return last_.value_or(0); }

 private:
  std::optional<std::int64_t> last_;
  std::string history_;
  std::optional<std::set<WriteLockHolder>> writers_;  // W, shrunk to those still holding
};

}  // namespace projd
