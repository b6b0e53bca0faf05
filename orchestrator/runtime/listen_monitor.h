// ListenMonitor: the health of one LISTEN connection of a worker ("events" wakes the
// readers, "generations" the coordinator). While the connection is down, the worker falls
// back to polling (POLL_INTERVAL, HEARTBEAT_INTERVAL): nothing is missed, wake-ups are
// slower. Each outage is counted once and logged twice, when it begins (with the masked
// error) and when LISTEN is back (with how long it was down); a connection that flaps logs
// the loss at most once per `log_interval`, that line counting the outages since the
// previous one. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "orchestrator/common/clock.h"
#include "orchestrator/runtime/listen_observer.h"
#include "orchestrator/common/log_throttle.h"
#include "orchestrator/common/logging.h"

namespace projd {

struct ListenStatus {
  std::string listener;          // "events" or "generations"
  bool listening = false;        // LISTEN established on a live session now
  std::int64_t losses = 0;       // outages since start (a failed first connect counts as one)
  std::string last_error;        // of the latest outage (masked), "" before any
};

class ListenMonitor final : public ListenObserver {
 public:
  ListenMonitor(std::string listener, const Clock& clock, std::optional<Logger> logger,
                std::chrono::milliseconds log_interval = std::chrono::seconds(30));

  void Lost(const std::string& error) override;
  void Listening() override;
  ListenStatus Status() const;

 private:
  const Clock& clock_;
  std::optional<Logger> logger_;
  mutable std::mutex mu_;
  ListenStatus status_;
  bool in_outage_ = false;
  bool outage_logged_ = false;
  Clock::Monotonic::time_point outage_since_{};
  LogThrottle loss_log_;
};

}  // namespace projd
