// ListenObserver: what a LISTEN connection (pg::EventNotifier) reports about its health,
// so that the layer above logs and counts outages (ListenMonitor) while the Postgres code
// stays free of logging. Implementations must be thread-safe.
#pragma once

#include <string>

namespace projd {

class ListenObserver {
 public:
  virtual ~ListenObserver() = default;
  // The connection failed, or its session was replaced (LISTEN lost). `error` is already
  // masked (no password in any form). Called for every failed attempt of an outage.
  virtual void Lost(const std::string& error) = 0;
  // LISTEN is (re)established on a live session.
  virtual void Listening() = 0;
};

}  // namespace projd
