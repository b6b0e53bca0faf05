// Event (public: include/projd/event.h): one row of the `events` table (design section 2),
// as read by the event store, the partitioned reader and the projections; NewEvent: what an
// appender supplies. Plain data; copyable; no invariants beyond the table's.
#pragma once

#include <optional>
#include <string>

#include <projd/event.h>

namespace projd {

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
