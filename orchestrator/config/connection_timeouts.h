// ConnectionTimeouts: how long a projd connection waits on the network and the server,
// given to libpq (connect_timeout, TCP keepalives, tcp_user_timeout) and to the server
// (statement_timeout). Derived from STALE_WORKER_TIMEOUT so a dead or black-holed peer is
// noticed within about half of it: by then the worker's own heartbeats need a working
// connection again, and its peers evict it at the full timeout. A parameter the user
// wrote into DATABASE_URL wins over these (pg::Connect). Plain data; pure functions.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace projd {

struct ConnectionTimeouts {
  // libpq connect_timeout: the whole connection set-up, per host (whole seconds, libpq's
  // minimum is 2).
  std::chrono::seconds connect{10};
  // TCP keepalives (keepalives=1): probes after this much silence, this often, this many.
  std::chrono::seconds keepalives_idle{5};
  std::chrono::seconds keepalives_interval{3};
  int keepalives_count = 3;
  // libpq tcp_user_timeout: sent data unacknowledged this long closes the connection (and,
  // on Linux, so do keepalive probes unanswered this long).
  std::chrono::milliseconds tcp_user_timeout{15000};
  // Server-side statement_timeout of the session; 0 leaves the server's setting.
  std::chrono::milliseconds statement{0};

  // The defaults above are ForStaleWorkerTimeout(30s) with no statement timeout:
  //   connect             = STALE_WORKER_TIMEOUT / 3, within [2s, 10s]
  //   keepalives_idle     = STALE_WORKER_TIMEOUT / 6, at least 1s
  //   keepalives_interval = STALE_WORKER_TIMEOUT / 10, at least 1s; count 3
  //   tcp_user_timeout    = STALE_WORKER_TIMEOUT / 2, at least 1s
  static ConnectionTimeouts ForStaleWorkerTimeout(std::chrono::milliseconds stale_worker_timeout);

  // The libpq connection parameters (name, value) these stand for, in libpq's units.
  std::vector<std::pair<std::string, std::string>> LibpqParameters() const;

  bool operator==(const ConnectionTimeouts&) const = default;
};

}  // namespace projd
