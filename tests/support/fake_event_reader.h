// FakeEventReader: an in-memory event stream with fixed partitions, read like the
// Postgres reader (owned partitions above their positions, up to the mark, limited).
// Thread-safe: a test may append while a runner reads.
#pragma once

#include <mutex>
#include <stdexcept>
#include <vector>

#include "orchestrator/reading/event_reader.h"
#include "orchestrator/reading/stream_id.h"

namespace projd::testing {

class FakeEventReader final : public EventReader {
 public:
  // Appends an event at the next position (1, 2, ...) in `partition`; returns the position.
  std::int64_t Append(int partition, std::string aggregate_id = "a", std::string type = "Happened") {
    return Append(partition, StreamId{"", "", std::move(aggregate_id)}, std::move(type));
  }
  // The same for an event of `stream` (bounded context, aggregate type and id).
  std::int64_t Append(int partition, StreamId stream, std::string type) {
    std::lock_guard lock(mu_);
    EventWithPartition e;
    e.event.global_position = static_cast<std::int64_t>(events_.size()) + 1;
    e.event.bounded_context = std::move(stream.bounded_context);
    e.event.aggregate_type = std::move(stream.aggregate_type);
    e.event.aggregate_id = std::move(stream.aggregate_id);
    e.event.event_type = std::move(type);
    e.partition = partition;
    events_.push_back(e);
    return e.event.global_position;
  }

  ReadResult ReadBatch(const ReadRequest& request) override {
    std::lock_guard lock(mu_);
    ++reads_;
    ReadResult r;
    r.scanned_to = request.high_water_mark;
    for (const auto& e : events_) {
      if (e.event.global_position > request.high_water_mark) break;
      const auto it = request.after.find(e.partition);
      if (it == request.after.end() || e.event.global_position <= it->second) continue;
      r.events.push_back(e);
      if (static_cast<int>(r.events.size()) == request.limit) {
        r.scanned_to = e.event.global_position;
        break;
      }
    }
    return r;
  }

  int reads() {
    std::lock_guard lock(mu_);
    return reads_;
  }

 private:
  std::mutex mu_;
  int reads_ = 0;
  std::vector<EventWithPartition> events_;
};

}  // namespace projd::testing
