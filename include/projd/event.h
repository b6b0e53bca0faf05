// projd::Event: one committed row of the `events` table, as a projection receives it.
// Plain data; copyable.
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

}  // namespace projd
