#include "orchestrator/config/connection_timeouts.h"

#include <algorithm>

namespace projd {

ConnectionTimeouts ConnectionTimeouts::ForStaleWorkerTimeout(std::chrono::milliseconds stale) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  ConnectionTimeouts t;
  t.connect = std::clamp(duration_cast<seconds>(stale / 3), seconds(2), seconds(10));
  t.keepalives_idle = std::max(duration_cast<seconds>(stale / 6), seconds(1));
  t.keepalives_interval = std::max(duration_cast<seconds>(stale / 10), seconds(1));
  t.keepalives_count = 3;
  t.tcp_user_timeout = std::max(stale / 2, milliseconds(1000));
  return t;
}

std::vector<std::pair<std::string, std::string>> ConnectionTimeouts::LibpqParameters() const {
  return {{"connect_timeout", std::to_string(connect.count())},
          {"keepalives", "1"},
          {"keepalives_idle", std::to_string(keepalives_idle.count())},
          {"keepalives_interval", std::to_string(keepalives_interval.count())},
          {"keepalives_count", std::to_string(keepalives_count)},
          {"tcp_user_timeout", std::to_string(tcp_user_timeout.count())}};
}

}  // namespace projd
