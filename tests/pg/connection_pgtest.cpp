// Bounded waits on every projd connection (connect_timeout, TCP keepalives,
// tcp_user_timeout, statement_timeout), and the user's own values in DATABASE_URL winning.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "orchestrator/database_url.h"
#include "orchestrator/errors.h"
#include "orchestrator/pg/connection.h"
#include "tests/support/pg_test_schema.h"

using namespace std::chrono_literals;
using projd::testing::PgTestSchema;

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
