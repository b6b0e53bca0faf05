// EventStore: appending to and reading from the pupsourcing-compatible `events` table.
//
// Append uses optimistic concurrency: the caller states what it expects the stream's
// current version to be; a mismatch throws ConcurrencyConflict and writes nothing. The
// UNIQUE (bounded_context, aggregate_type, aggregate_id, aggregate_version) constraint is
// the final judge, so writers that bypass projd (plain INSERTs) can never be overwritten.
// Implementations are not required to be thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/reading/event.h"
#include "orchestrator/reading/stream_id.h"

namespace projd {

// What the appender expects the stream's current version to be.
class ExpectedVersion {
 public:
  enum class Kind { kAny, kNoStream, kExact };
  static ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }
  static ExpectedVersion NoStream() { return ExpectedVersion(Kind::kNoStream, 0); }
  static ExpectedVersion Exact(std::int64_t version) { return ExpectedVersion(Kind::kExact, version); }

  Kind kind() const { return kind_; }
  std::int64_t version() const { return version_; }
  // True when a stream whose current version is `current` (0 = no stream) satisfies it.
  bool Matches(std::int64_t current) const {
    switch (kind_) {
      case Kind::kAny: return true;
      case Kind::kNoStream: return current == 0;
      case Kind::kExact: return current == version_;
    }
    return false;
  }
  std::string ToString() const {
    switch (kind_) {
      case Kind::kAny: return "any";
      case Kind::kNoStream: return "no stream";
      case Kind::kExact: return "version " + std::to_string(version_);
    }
    return "";
  }

 private:
  ExpectedVersion(Kind kind, std::int64_t version) : kind_(kind), version_(version) {}
  Kind kind_;
  std::int64_t version_;
};

struct AppendResult {
  std::vector<std::int64_t> positions;  // global_position of each appended event, in order
  std::int64_t first_version = 0;       // aggregate_version of the first appended event
  std::int64_t last_version = 0;        // the stream's version after the append
};

struct EventStoreSummary {
  std::int64_t events = 0;
  std::int64_t aggregates = 0;
  std::int64_t max_position = 0;
  std::vector<std::pair<std::string, std::int64_t>> per_event_type;  // sorted by type
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends `events` (at least one) to `stream` in one transaction. Throws
  // ConcurrencyConflict (expected vs actual version in the message), TransientError when
  // the database is unavailable (nothing or everything was written: the transaction is
  // atomic; an InDoubtError means the commit outcome is unknown).
  virtual AppendResult Append(const StreamId& stream, ExpectedVersion expected,
                              std::span<const NewEvent> events) = 0;

  // The stream's events with aggregate_version > after_version, ascending.
  virtual std::vector<Event> ReadStream(const StreamId& stream, std::int64_t after_version = 0) = 0;

  // Up to `limit` events with global_position > after_position, ascending. This is the
  // raw table order, not gap-safe: followers use the EventReader (high-water mark).
  virtual std::vector<Event> ReadAll(std::int64_t after_position, int limit) = 0;

  // The highest global_position in the table (0 when empty); cheap (index). Not a
  // high-water mark: positions below it may still be in flight.
  virtual std::int64_t LatestPosition() = 0;

  // Counts for a human overview (full scans: for demos and small stores).
  virtual EventStoreSummary Summarize() = 0;
};

}  // namespace projd
