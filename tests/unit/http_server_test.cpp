// The HTTP server over real sockets on 127.0.0.1: routing is the handler's; the server must
// answer, survive malformed requests, cut slow clients without blocking others, and answer
// probes while idle and slow-loris clients hold every connection slot.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

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

// A raw client socket on 127.0.0.1 that sends what it is told, when it is told (a slow-loris
// drips its request head; an idle client sends nothing).
class RawClient {
 public:
  explicit RawClient(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Send(const std::string& bytes) {
    if (fd_ >= 0) (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Reads what the server sends until it closes the connection (true) or `timeout` passes.
  bool ReadUntilClosed(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      const auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return true;  // EOF, or reset by the server
      if (received) received->append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }

 private:
  int fd_;
};

// Clients that attack the server's connection slots from a thread of their own until
// destroyed: `idle` connections that send nothing, `slow` ones that send one byte of a request
// head per second to each connection, and, when `reconnect_per_second` > 0, new idle
// connections opened at that rate (each one takes a slot from someone at the cap).
class SlotFlood {
 public:
  SlotFlood(unsigned short port, int idle, int slow, int reconnect_per_second) : port_(port) {
    for (int i = 0; i < idle; ++i) clients_.push_back(std::make_unique<RawClient>(port));
    for (int i = 0; i < slow; ++i) {
      slow_.push_back(std::make_unique<RawClient>(port));
      slow_.back()->Send("G");
    }
    thread_ = std::thread([this, reconnect_per_second] { Loop(reconnect_per_second); });
  }
  ~SlotFlood() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop(int reconnect_per_second) {
    const std::string head = "ET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loris: " + std::string(4000, 'a');
    std::size_t sent = 0;
    auto next_drip = std::chrono::steady_clock::now() + 1s;
    const auto pace = reconnect_per_second > 0 ? std::chrono::milliseconds(1000 / reconnect_per_second)
                                               : std::chrono::milliseconds(1000);
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, pace, [this] { return stop_; })) {
      if (reconnect_per_second > 0) {
        clients_.push_back(std::make_unique<RawClient>(port_));
        if (clients_.size() > 256) clients_.pop_front();  // they were evicted long ago
      }
      if (std::chrono::steady_clock::now() >= next_drip) {
        next_drip += 1s;
        const std::string byte(1, head[sent++ % head.size()]);
        for (auto& c : slow_) c->Send(byte);
      }
    }
  }

  unsigned short port_;
  std::deque<std::unique_ptr<RawClient>> clients_;
  std::vector<std::unique_ptr<RawClient>> slow_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};
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

TEST_CASE("request headers reach the handler with lower-cased names, a repeated one joined", "[http]") {
  HttpServer server(
      "127.0.0.1:0",
      [](const HttpRequest& r) -> HttpResponse {
        const auto* a = r.Header("x-a");
        return {200, "text/plain", a ? *a : "none", {{"X-Seen", std::to_string(r.headers.size())}}};
      },
      Quiet());
  server.Start();
  const auto raw = RawExchange(server.port(), "GET / HTTP/1.1\r\nX-A: one\r\nx-a: two\r\nConnection: close\r\n\r\n");
  CHECK_THAT(raw, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(raw, Catch::Contains("X-Seen: 2\r\n"));  // x-a and connection
  CHECK_THAT(raw, Catch::EndsWith("one, two"));
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
  options.request_timeout = 300ms;
  auto server = Echo(options);
  server.Start();
  IdleConnection slow(server.port());
  IdleConnection half(server.port());
  CHECK(HttpCall(server.port(), "GET", "/meanwhile").status == 200);  // served while two clients idle
  CHECK(slow.ClosedByServer(5s));
  CHECK(half.ClosedByServer(5s));
}

TEST_CASE("a client that drips its request head is cut at the request deadline, not per byte", "[http]") {
  projd::http::HttpServerOptions options;
  options.request_timeout = 300ms;
  auto server = Echo(options);
  server.Start();
  RawClient loris(server.port());
  REQUIRE(loris.connected());
  loris.Send("GET /slow HTTP/1.1\r\nX-Loris: ");
  // A byte every 50 ms, well inside any per-read timeout, until the server hangs up.
  std::string received;
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    loris.Send("a");
    closed = loris.ReadUntilClosed(50ms, &received);
  }
  CHECK(closed);
  CHECK(received.empty());  // cut, not answered
}

TEST_CASE("idle clients are cut at the default request deadline of a few seconds", "[http]") {
  auto server = Echo();
  server.Start();
  projd::testing::IdleConnection idle(server.port());
  CHECK(idle.ClosedByServer(10s));
  CHECK(projd::testing::WaitFor([&] { return server.open_connections() == 0; }, 5s));
}

TEST_CASE("at the connection cap a new connection closes the one that has waited longest", "[http]") {
  projd::http::HttpServerOptions options;
  options.max_connections = 2;
  options.request_timeout = 60s;  // the deadline does not free slots within this test
  auto server = Echo(options);
  server.Start();
  IdleConnection oldest(server.port());
  REQUIRE(projd::testing::WaitFor([&] { return server.open_connections() == 1; }, 5s));
  RawClient newer(server.port());
  REQUIRE(projd::testing::WaitFor([&] { return server.open_connections() == 2; }, 5s));
  // The newer client has started a request; the oldest has waited longest for one.
  newer.Send("GET /x HTTP/1.1\r\n");

  // A keep-alive request at the cap is answered, with Connection: close.
  RawClient probe(server.port());
  probe.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string answer;
  CHECK(probe.ReadUntilClosed(5s, &answer));
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(answer, Catch::Contains("Connection: close"));
  CHECK_THAT(answer, Catch::EndsWith("GET /healthz"));

  CHECK(oldest.ClosedByServer(5s));
  CHECK(server.evicted() == 1);
  // The newer client kept its slot and may still finish its request.
  newer.Send("Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string late;
  CHECK(newer.ReadUntilClosed(5s, &late));
  CHECK_THAT(late, Catch::StartsWith("HTTP/1.1 200"));
}

TEST_CASE("below the cap a keep-alive connection stays open for its next request", "[http]") {
  auto server = Echo();
  server.Start();
  RawClient client(server.port());
  client.Send("GET /one HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string first;
  CHECK_FALSE(client.ReadUntilClosed(300ms, &first));  // answered, connection kept
  CHECK_THAT(first, Catch::EndsWith("GET /one"));
  client.Send("GET /two HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string second;
  CHECK(client.ReadUntilClosed(5s, &second));
  CHECK_THAT(second, Catch::EndsWith("GET /two"));
}

TEST_CASE("probes are answered while idle and slow-loris clients hold every connection slot", "[http][flood]") {
  projd::http::HttpServerOptions options;
  options.request_timeout = 60s;  // worse than the default: only eviction frees the slots
  auto server = Echo(options);
  server.Start();
  const int slots = static_cast<int>(options.max_connections);

  SECTION("a full house of idle and slow clients") {
    SlotFlood flood(server.port(), slots / 2, slots / 2, 0);
    REQUIRE(projd::testing::WaitFor([&] { return server.open_connections() == options.max_connections; }, 10s));
    std::vector<std::unique_ptr<IdleConnection>> refill;
    for (const auto* path : {"/healthz", "/readyz", "/healthz", "/readyz"}) {
      // The answered probe freed its slot: fill the house again before the next one.
      REQUIRE(projd::testing::WaitFor([&] { return server.open_connections() == options.max_connections; }, 10s));
      const auto r = HttpCall(server.port(), "GET", path, 5s);
      CHECK(r.status == 200);
      CHECK(r.body == std::string("GET ") + path);
      refill.push_back(std::make_unique<IdleConnection>(server.port()));
    }
    REQUIRE(projd::testing::WaitFor([&] { return server.open_connections() == options.max_connections; }, 10s));
    const auto probe = projd::http::Probe("127.0.0.1", server.port(), "/healthz", 5s);
    CHECK(probe.status == 200);
    CHECK(server.evicted() == 5);  // one slot taken from the flood per probe
    CHECK(server.open_connections() <= options.max_connections);
  }

  SECTION("idle clients reconnecting a hundred times a second on top of slow ones") {
    SlotFlood flood(server.port(), slots / 2, slots / 2, 100);
    REQUIRE(projd::testing::WaitFor([&] { return server.evicted() > 100; }, 20s));
    int answered = 0;
    for (int i = 0; i < 20; ++i) answered += HttpCall(server.port(), "GET", "/readyz", 5s).status == 200;
    CHECK(answered == 20);
    CHECK(server.open_connections() <= options.max_connections);
  }
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

TEST_CASE("a deferred answer outlives the request deadline while the loop serves others", "[http][wait]") {
  projd::http::HttpServerOptions options;
  options.request_timeout = 300ms;
  std::mutex mu;
  std::vector<projd::http::Respond> parked;
  HttpServer server(
      "127.0.0.1:0",
      [&](const HttpRequest& r) -> HttpResponse {
        if (r.target != "/later") return {200, "text/plain", "now"};
        HttpResponse later;
        later.later = [&](projd::http::Respond respond) {
          std::lock_guard lock(mu);
          parked.push_back(std::move(respond));
        };
        return later;
      },
      Quiet(), options);
  server.Start();
  auto answer = std::async(std::launch::async, [&] { return HttpCall(server.port(), "GET", "/later", 30s); });
  REQUIRE(projd::testing::WaitFor([&] { std::lock_guard lock(mu); return parked.size() == 1; }, 10s));
  CHECK(HttpCall(server.port(), "GET", "/now").status == 200);  // the loop is free
  // An idle client cut at the deadline: the deferred request has waited longer than that by now.
  IdleConnection idle(server.port());
  CHECK(idle.ClosedByServer(5s));
  CHECK(answer.wait_for(0s) == std::future_status::timeout);
  std::thread([&] {
    std::lock_guard lock(mu);
    parked[0]({200, "text/plain", "later"});
    parked[0]({500, "text/plain", "twice"});  // only the first answer counts
  }).join();
  const auto r = answer.get();
  CHECK(r.status == 200);
  CHECK(r.body == "later");
  server.Stop();
  std::lock_guard lock(mu);
  parked[0]({200, "text/plain", "after stop"});  // dropped, not posted to a stopped loop
}
