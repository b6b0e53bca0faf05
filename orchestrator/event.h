// Event: one row of the `events` table (design section 2), as read by the event store,
// the partitioned reader and the projections; NewEvent: what an appender supplies.
// Plain data; copyable; no invariants beyond the table's.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace projd {

struct Event {
  std::int64_t global_position = 0;
  std::string bounded_context;
  std::string aggregate_type;
  std::string aggregate_id;
  std::int64_t aggregate_version = 0;
  std::string event_id;    // UUID text
  std::string event_type;
  int event_version = 1;
  std::string payload;     // raw bytes (BYTEA)
  std::optional<std::string> trace_id;
  std::optional<std::string> correlation_id;
  std::optional<std::string> causation_id;
  std::optional<std::string> metadata;  // JSON text
  std::chrono::system_clock::time_point created_at{};
};

// An event to append; the store assigns global_position and aggregate_version.
struct NewEvent {
  std::string event_type;
  std::string payload;     // raw bytes
  int event_version = 1;
  std::optional<std::string> event_id;  // UUID text; generated when empty
  std::optional<std::string> trace_id;
  std::optional<std::string> correlation_id;
  std::optional<std::string> causation_id;
  std::optional<std::string> metadata;  // JSON text
};

}  // namespace projd
