#include <catch2/catch.hpp>

#include <map>

#include "orchestrator/config/connection_timeouts.h"

using namespace std::chrono_literals;
using projd::ConnectionTimeouts;

TEST_CASE("connection timeouts follow STALE_WORKER_TIMEOUT so a dead peer is noticed within about half of it",
          "[connection]") {
  SECTION("the defaults are those of the default STALE_WORKER_TIMEOUT, without a statement timeout") {
    CHECK(ConnectionTimeouts{} == ConnectionTimeouts::ForStaleWorkerTimeout(30s));
    CHECK(ConnectionTimeouts{}.statement == 0ms);
  }
  SECTION("30s") {
    const auto t = ConnectionTimeouts::ForStaleWorkerTimeout(30s);
    CHECK(t.connect == 10s);
    CHECK(t.keepalives_idle == 5s);
    CHECK(t.keepalives_interval == 3s);
    CHECK(t.keepalives_count == 3);
    CHECK(t.tcp_user_timeout == 15s);
  }
  SECTION("short timeouts stop at libpq's minimums") {
    const auto t = ConnectionTimeouts::ForStaleWorkerTimeout(1500ms);
    CHECK(t.connect == 2s);
    CHECK(t.keepalives_idle == 1s);
    CHECK(t.keepalives_interval == 1s);
    CHECK(t.tcp_user_timeout == 1s);
  }
  SECTION("long ones keep connecting bounded") {
    const auto t = ConnectionTimeouts::ForStaleWorkerTimeout(10min);
    CHECK(t.connect == 10s);
    CHECK(t.keepalives_idle == 100s);
    CHECK(t.tcp_user_timeout == 5min);
  }
  SECTION("keepalive probes give up before STALE_WORKER_TIMEOUT") {
    for (const std::chrono::milliseconds stale : {6s, 10s, 30s, 60s, 300s}) {
      const auto t = ConnectionTimeouts::ForStaleWorkerTimeout(stale);
      CHECK(t.keepalives_idle + t.keepalives_count * t.keepalives_interval < stale);
      CHECK(t.tcp_user_timeout < stale);
    }
  }
}

TEST_CASE("connection timeouts are given to libpq in its own units", "[connection]") {
  ConnectionTimeouts t;
  t.tcp_user_timeout = 2500ms;
  std::map<std::string, std::string> p;
  for (const auto& [k, v] : t.LibpqParameters()) p[k] = v;
  CHECK(p == std::map<std::string, std::string>{{"connect_timeout", "10"},
                                                {"keepalives", "1"},
                                                {"keepalives_idle", "5"},
                                                {"keepalives_interval", "3"},
                                                {"keepalives_count", "3"},
                                                {"tcp_user_timeout", "2500"}});
}
