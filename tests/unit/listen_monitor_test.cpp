#include <catch2/catch.hpp>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/runtime/listen_monitor.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::ostringstream out;
  projd::testing::FakeClock clock;
  projd::ListenMonitor monitor{"events", clock,
                               projd::Logger(std::make_shared<spdlog::logger>(
                                                 "listen", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)),
                                             projd::LogFormat::kText),
                               30s};
  int Lines(const std::string& text) const {
    int n = 0;
    for (auto at = out.str().find(text); at != std::string::npos; at = out.str().find(text, at + 1)) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE("a lost LISTEN connection is counted and logged once per outage, with the error masked",
          "[listen]") {
  Fixture f;
  f.monitor.Listening();
  CHECK(f.monitor.Status().listening);
  CHECK(f.out.str().empty());  // the first LISTEN is no news

  f.monitor.Lost("server closed the connection unexpectedly (postgresql://app:hunter2@db/x)");
  f.clock.Advance(1s);
  f.monitor.Lost("could not connect: Connection refused");  // reconnects failing: the same outage
  f.clock.Advance(1s);
  f.monitor.Lost("could not connect: Connection refused");
  auto s = f.monitor.Status();
  CHECK_FALSE(s.listening);
  CHECK(s.losses == 1);
  CHECK(s.last_error == "could not connect: Connection refused");
  CHECK(f.Lines("LISTEN connection lost") == 1);
  CHECK_THAT(f.out.str(), Catch::Contains("server closed the connection unexpectedly"));
  CHECK_THAT(f.out.str(), !Catch::Contains("hunter2"));

  f.monitor.Listening();
  CHECK(f.monitor.Status().listening);
  CHECK(f.Lines("LISTEN connection back") == 1);
  CHECK_THAT(f.out.str(), Catch::Contains("down_ms=2000"));

  f.clock.Advance(1s);
  f.monitor.Lost("terminating connection due to administrator command");
  CHECK(f.monitor.Status().losses == 2);
}

TEST_CASE("a flapping LISTEN connection logs its losses at most once per interval, with a count", "[listen]") {
  Fixture f;
  for (int i = 0; i < 10; ++i) {
    f.monitor.Lost("terminating connection due to administrator command");
    f.clock.Advance(1s);
    f.monitor.Listening();
  }
  CHECK(f.monitor.Status().losses == 10);
  CHECK(f.Lines("LISTEN connection lost") == 1);
  CHECK(f.Lines("LISTEN connection back") == 1);  // only the outage whose loss was logged
  f.clock.Advance(30s);
  f.monitor.Lost("terminating connection due to administrator command");
  CHECK(f.Lines("LISTEN connection lost") == 2);
  CHECK_THAT(f.out.str(), Catch::Contains("outages=10"));  // this one and the nine not logged
}

TEST_CASE("LISTEN connection losses are exported per listener", "[listen][metrics]") {
  projd::WorkerStatus status;
  status.listeners = {{"events", true, 3, ""}, {"generations", false, 1, "refused"}};
  const auto text = projd::http::RenderMetrics(status);
  CHECK_THAT(text, Catch::Contains("projd_listen_connection_losses_total{listener=\"events\"} 3"));
  CHECK_THAT(text, Catch::Contains("projd_listen_connection_losses_total{listener=\"generations\"} 1"));
  CHECK_THAT(text, Catch::Contains("projd_listen_connected{listener=\"generations\"} 0"));
  CHECK_THAT(text, Catch::Contains("projd_listen_connected{listener=\"events\"} 1"));
}
