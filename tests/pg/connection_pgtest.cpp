// Bounded waits on every projd connection (connect_timeout, TCP keepalives,
// tcp_user_timeout, statement_timeout), the user's own values in DATABASE_URL winning, and
// a lost LISTEN connection reported (logged and counted) once per outage.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "orchestrator/common/clock.h"
#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/runtime/listen_monitor.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/event_notifier.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

// The value libpq reads for `key` from a connection string ("" when absent).
std::string LibpqValue(const std::string& conninfo, const std::string& key) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(unparsable)";
  }
  std::string value;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (key == o->keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

std::string Show(pqxx::connection& c, const std::string& setting) {
  pqxx::nontransaction tx(c);
  return tx.exec1("SHOW " + setting)[0].as<std::string>();
}

}  // namespace

TEST_CASE("a projd connection bounds its waits on the network and on the server", "[pg][connection]") {
  PgTestSchema db;
  auto options = db.options();
  options.timeouts = projd::ConnectionTimeouts::ForStaleWorkerTimeout(6s);
  options.timeouts.statement = 1234ms;
  const auto conninfo = projd::pg::ConnInfo(options);
  CHECK(LibpqValue(conninfo, "connect_timeout") == "2");
  CHECK(LibpqValue(conninfo, "keepalives") == "1");
  CHECK(LibpqValue(conninfo, "keepalives_idle") == "1");
  CHECK(LibpqValue(conninfo, "keepalives_interval") == "1");
  CHECK(LibpqValue(conninfo, "keepalives_count") == "3");
  CHECK(LibpqValue(conninfo, "tcp_user_timeout") == "3000");
  const auto c = projd::pg::Connect(options);
  CHECK(Show(*c, "statement_timeout") == "1234ms");
  CHECK(Show(*c, "search_path") == "\"" + db.schema() + "\"");

  SECTION("without a statement timeout the server's setting stays") {
    options.timeouts.statement = 0ms;
    CHECK(Show(*projd::pg::Connect(options), "statement_timeout") == "0");
  }
}

TEST_CASE("timeouts written into DATABASE_URL win over projd's", "[pg][connection]") {
  PgTestSchema db;
  auto options = db.options();
  options.timeouts.statement = 1234ms;
  SECTION("URI form") {
    options.url = projd::WithConnectionParameter(options.url, "connect_timeout", "7");
    options.url = projd::WithConnectionParameter(options.url, "keepalives_idle", "42");
    options.url = projd::WithConnectionParameter(options.url, "options", "-c statement_timeout=7s");
  }
  SECTION("-- form of the server switch, and tcp_user_timeout=0 (off)") {
    options.url = projd::WithConnectionParameter(options.url, "connect_timeout", "7");
    options.url = projd::WithConnectionParameter(options.url, "keepalives_idle", "42");
    options.url = projd::WithConnectionParameter(options.url, "tcp_user_timeout", "0");
    options.url = projd::WithConnectionParameter(options.url, "options", "--statement-timeout=7s");
    CHECK(LibpqValue(projd::pg::ConnInfo(options), "tcp_user_timeout") == "0");
  }
  const auto conninfo = projd::pg::ConnInfo(options);
  CHECK(LibpqValue(conninfo, "connect_timeout") == "7");
  CHECK(LibpqValue(conninfo, "keepalives_idle") == "42");
  CHECK(LibpqValue(conninfo, "keepalives_interval") == "3");  // not in the URL: projd's
  const auto c = projd::pg::Connect(options);
  CHECK(Show(*c, "statement_timeout") == "7s");
  // projd's own settings still apply next to the user's.
  CHECK(Show(*c, "search_path") == "\"" + db.schema() + "\"");
}

TEST_CASE("a server that takes the connection and never answers is given up after connect_timeout",
          "[pg][connection]") {
  // A listening socket nobody accepts on: the kernel completes the TCP handshake, then
  // nothing answers libpq's start-up packet, as with a stopped (SIGSTOP) postmaster.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 8) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const int port = ntohs(address.sin_port);

  projd::pg::ConnectionOptions options{"postgresql://projd@127.0.0.1:" + std::to_string(port) + "/x?sslmode=disable",
                                       "public", "projd-test"};
  options.timeouts = projd::ConnectionTimeouts::ForStaleWorkerTimeout(1500ms);  // connect_timeout=2
  auto attempt = std::async(std::launch::async, [&] {
    try {
      projd::pg::Connect(options);
      return std::string("connected");
    } catch (const projd::TransientError& e) {
      return std::string(e.what());
    }
  });
  // A bound on waiting (well above the 2 s): without connect_timeout it would never end.
  REQUIRE(attempt.wait_for(30s) == std::future_status::ready);
  const auto outcome = attempt.get();
  INFO(outcome);
  CHECK_THAT(outcome, Catch::Contains("cannot connect to"));
  ::close(listener);
}

TEST_CASE("a lost LISTEN connection is logged with its error and counted once, and LISTEN comes back",
          "[pg][connection][notify]") {
  PgTestSchema db;
  auto options = db.options();
  options.application_name = "projd-listen-" + db.schema();  // to terminate this session only
  std::ostringstream log;
  const projd::SystemClock clock;
  auto monitor = std::make_shared<projd::ListenMonitor>(
      "events", clock,
      projd::Logger(std::make_shared<spdlog::logger>("listen", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)),
                    projd::LogFormat::kText));
  projd::pg::EventNotifier notifier(options, monitor);
  CHECK(notifier.Wait(10ms));
  CHECK(monitor->Status().listening);
  CHECK(monitor->Status().losses == 0);

  db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
          options.application_name + "'");
  CHECK(WaitFor([&] { notifier.Wait(50ms); return monitor->Status().losses == 1; }, 10s));
  CHECK(WaitFor([&] { notifier.Wait(50ms); return monitor->Status().listening; }, 10s));
  CHECK(monitor->Status().losses == 1);
  CHECK_FALSE(monitor->Status().last_error.empty());
  INFO(log.str());
  CHECK_THAT(log.str(), Catch::Contains("LISTEN connection lost") && Catch::Contains("listener=events"));
  CHECK_THAT(log.str(), Catch::Contains("LISTEN connection back"));
}
