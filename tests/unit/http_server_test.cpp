// The HTTP server over real sockets on 127.0.0.1: routing is the handler's; the server must
// answer, survive malformed requests and cut slow clients without blocking others.
#include <catch2/catch.hpp>

#include <atomic>

#include "orchestrator/http/http_probe.h"
#include "orchestrator/http/http_server.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::http::HttpRequest;
using projd::http::HttpResponse;
using projd::http::HttpServer;
using projd::http::ParseListenAddress;
using projd::testing::HttpCall;
using projd::testing::IdleConnection;
using projd::testing::RawExchange;

namespace {
projd::Logger Quiet() { return projd::Logger("test", "off", projd::LogFormat::kText); }

HttpServer Echo(projd::http::HttpServerOptions options = {}) {
  return HttpServer(
      "127.0.0.1:0",
      [](const HttpRequest& r) -> HttpResponse {
        if (r.target == "/throw") throw std::runtime_error("handler bug");
        return {200, "text/plain", r.method + " " + r.target};
      },
      Quiet(), options);
}
}  // namespace

TEST_CASE("listen addresses are host:port, :port or [v6]:port and anything else is refused", "[http]") {
  CHECK(ParseListenAddress("0.0.0.0:9090") == std::pair<std::string, unsigned short>{"0.0.0.0", 9090});
  CHECK(ParseListenAddress(":8080") == std::pair<std::string, unsigned short>{"0.0.0.0", 8080});
  CHECK(ParseListenAddress("[::1]:0") == std::pair<std::string, unsigned short>{"::1", 0});
  CHECK_THROWS(ParseListenAddress("localhost"));
  CHECK_THROWS(ParseListenAddress("1.2.3.4:70000"));
  CHECK_THROWS(ParseListenAddress("1.2.3.4:http"));
}

TEST_CASE("the server answers requests and turns a throwing handler into 500", "[http]") {
  auto server = Echo();
  server.Start();
  const auto ok = HttpCall(server.port(), "GET", "/x?y=1");
  CHECK(ok.status == 200);
  CHECK(ok.body == "GET /x?y=1");
  const auto bug = HttpCall(server.port(), "GET", "/throw");
  CHECK(bug.status == 500);
  CHECK_THAT(bug.body, Catch::Contains("handler bug"));
}

TEST_CASE("a malformed request gets 400 and the server keeps serving", "[http]") {
  auto server = Echo();
  server.Start();
  CHECK_THAT(RawExchange(server.port(), "THIS IS NOT HTTP\r\n\r\n"), Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(RawExchange(server.port(), "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Catch::StartsWith("HTTP/1.1 400"));
  const std::string huge_header = "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  CHECK_THAT(RawExchange(server.port(), huge_header), Catch::StartsWith("HTTP/1.1 400"));
  CHECK(HttpCall(server.port(), "GET", "/after").status == 200);
}

TEST_CASE("a slow client is cut at the read deadline and does not block others", "[http]") {
  projd::http::HttpServerOptions options;
  options.read_timeout = 300ms;
  auto server = Echo(options);
  server.Start();
  IdleConnection slow(server.port());
  IdleConnection half(server.port());
  CHECK(HttpCall(server.port(), "GET", "/meanwhile").status == 200);  // served while two clients idle
  CHECK(slow.ClosedByServer(5s));
  CHECK(half.ClosedByServer(5s));
}

TEST_CASE("connections over the cap are refused, not queued", "[http]") {
  projd::http::HttpServerOptions options;
  options.max_connections = 2;
  options.read_timeout = 5s;
  auto server = Echo(options);
  server.Start();
  IdleConnection a(server.port());
  IdleConnection b(server.port());
  // The cap is reached once both are accepted; a third connection is closed at once.
  CHECK(projd::testing::WaitFor(
      [&] {
        IdleConnection c(server.port());
        return c.ClosedByServer(200ms);
      },
      5s));
}

TEST_CASE("a port in use is a start-up error naming HTTP_ADDR", "[http]") {
  auto first = Echo();
  first.Start();
  HttpServer second("127.0.0.1:" + std::to_string(first.port()), [](const HttpRequest&) { return HttpResponse{}; },
                    Quiet());
  CHECK_THROWS_WITH(second.Start(), Catch::Contains("HTTP_ADDR 127.0.0.1:"));
}

TEST_CASE("the probe reports the status of a live endpoint and an error for a closed port", "[http]") {
  auto server = Echo();
  server.Start();
  const auto ok = projd::http::Probe("127.0.0.1", server.port(), "/healthz", 2s);
  CHECK(ok.status == 200);
  CHECK(ok.body == "GET /healthz");
  const auto bug = projd::http::Probe("127.0.0.1", server.port(), "/throw", 2s);
  CHECK(bug.status == 500);
  const unsigned short closed = server.port();
  server.Stop();
  const auto refused = projd::http::Probe("127.0.0.1", closed, "/healthz", 2s);
  CHECK(refused.status == 0);
  CHECK_FALSE(refused.error.empty());
}

TEST_CASE("a local probe connects to loopback for wildcard listen addresses", "[http]") {
  using Address = std::pair<std::string, unsigned short>;
  CHECK(projd::http::LocalProbeAddress("0.0.0.0:9090") == Address{"127.0.0.1", 9090});
  CHECK(projd::http::LocalProbeAddress(":9091") == Address{"127.0.0.1", 9091});
  CHECK(projd::http::LocalProbeAddress("[::]:9092") == Address{"::1", 9092});
  CHECK(projd::http::LocalProbeAddress("10.1.2.3:9093") == Address{"10.1.2.3", 9093});
}
