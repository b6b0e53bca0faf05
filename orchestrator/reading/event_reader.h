// EventReader: reads the events of a set of partitions in position order, up to the
// high-water mark, with optional scope filters. Filtering happens in SQL, so a reader of
// k of P partitions receives only those rows.
// Not thread-safe: one reader per runner.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/reading/event.h"

namespace projd {

struct ReadScope {
  std::vector<std::string> aggregate_types;   // empty = all
  std::vector<std::string> bounded_contexts;  // empty = all
};

struct ReadRequest {
  int partition_count = 64;
  // Owned partitions and, for each, the position already processed (read strictly above).
  std::map<int, std::int64_t> after;
  std::int64_t high_water_mark = 0;  // read only positions <= this
  int limit = 100;
  ReadScope scope;
};

struct EventWithPartition {
  Event event;
  int partition = 0;
};

struct ReadResult {
  std::vector<EventWithPartition> events;  // position order
  // Every owned event with a position <= scanned_to has been returned (by this or an
  // earlier batch): a partition's position may advance to it even if none of its events
  // came back. It is the last event read when the batch is full, otherwise the mark.
  // It never passes an event that was not read.
  std::int64_t scanned_to = 0;
};

class EventReader {
 public:
  virtual ~EventReader() = default;
  // Throws TransientError when the database is unavailable.
  virtual ReadResult ReadBatch(const ReadRequest& request) = 0;
  // How the latest batch was read, for /status ("" when the reader has one way only).
  virtual std::string Plan() const { return ""; }
};

}  // namespace projd
