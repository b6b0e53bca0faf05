// The projd binary as an operator runs it: configuration errors, append, seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using projd::testing::PgTestSchema;
using projd::testing::RunProcess;

TEST_CASE("bad configuration exits 2 naming the variable and the value", "[pg][cli][config]") {
  struct Case {
    const char* variable;
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"HEARTBEAT_INTERVAL", "abc", "HEARTBEAT_INTERVAL=abc: not a duration"},
      {"BATCH_SIZE", "-1", "BATCH_SIZE=-1: must be positive"},
      {"PARTITIONS", "100", "PARTITIONS=100: must be a power of two"},
      {"HEARTBEAT_INTERVAL", "40s", "STALE_WORKER_TIMEOUT (30s) must be greater than HEARTBEAT_INTERVAL (40s)"},
      {"POLL_INTERVAL", "9999999h", "POLL_INTERVAL=9999999h: must be at most 24h0m0s"},
      {"PERSISTENCE_TIMEOUT", "1m", "must be less than FORCE_PERSISTENCE_TIMEOUT"},
      {"LOG_LEVEL", "chatty", "LOG_LEVEL=chatty: unknown level"},
      {"LOG_FORMAT", "xml", "LOG_FORMAT=xml"},
      {"DATABASE_SCHEMA", "x y", "DATABASE_SCHEMA=x y"},
      {"MAX_PENDING", "0", "MAX_PENDING=0: must be positive"},
      {"REPLICA_SET", "", "REPLICA_SET=: must not be empty"},
      {"HTTP_ADDR", "nowhere", "HTTP_ADDR=nowhere"},
      {"PARTITIONS", "8192", "PARTITIONS=8192"},
  };
  for (const auto& c : cases) {
    for (const std::vector<std::string>& argv : {std::vector<std::string>{PROJD_BINARY, "run", "--print-config"},
                                                 std::vector<std::string>{PROJD_BINARY, "migrate"}}) {
      const auto r = RunProcess(argv, {{c.variable, c.value}, {"DATABASE_URL", "postgresql://127.0.0.1:1/x"}});
      INFO(argv[1] << " " << c.variable << "=" << c.value << "\n" << r.out << r.err);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.err, Catch::Contains(c.expected));
    }
  }
}

TEST_CASE("every configuration problem is reported at once", "[pg][cli][config]") {
  const auto r = RunProcess({PROJD_BINARY, "run", "--print-config"},
                            {{"BATCH_SIZE", "0"}, {"LOG_LEVEL", "loud"}, {"HTTP_ADDR", "x"},
                             {"DATABASE_URL", "postgresql://127.0.0.1:1/x"}});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("BATCH_SIZE=0") && Catch::Contains("LOG_LEVEL=loud") && Catch::Contains("HTTP_ADDR=x"));
}

TEST_CASE("a flag overrides the environment in --print-config", "[pg][cli][config]") {
  const auto r = RunProcess({PROJD_BINARY, "run", "--print-config", "--batch-size", "700"},
                            {{"BATCH_SIZE", "500"}, {"DATABASE_URL", "postgresql://u:hunter2@db/x"}});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Matches("(.|\n)*BATCH_SIZE +flag +700(.|\n)*"));
  CHECK_THAT(r.out, Catch::Contains("postgresql://u:****@db/x"));
  CHECK(r.out.find("hunter2") == std::string::npos);
}

TEST_CASE("a missing or unreachable DATABASE_URL is a clear message, password masked", "[pg][cli]") {
  const auto missing = RunProcess({PROJD_BINARY, "migrate"}, {{"-DATABASE_URL", ""}});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("DATABASE_URL is not set"));

  const auto unreachable = RunProcess({PROJD_BINARY, "migrate"},
                                      {{"DATABASE_URL", "postgresql://app:hunter2@127.0.0.1:1/x?connect_timeout=2"}});
  CHECK(unreachable.exit_code == 1);
  CHECK_THAT(unreachable.err, Catch::Contains("cannot connect to postgresql://app:****@127.0.0.1:1/x"));
  CHECK(unreachable.err.find("hunter2") == std::string::npos);
  CHECK(unreachable.err.find("terminate") == std::string::npos);
}

TEST_CASE("projd append writes events from flags and from JSON lines", "[pg][cli][event_store]") {
  PgTestSchema db;
  const std::map<std::string, std::string> env{{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}};
  const auto one = RunProcess({PROJD_BINARY, "append", "--aggregate-type", "order", "--aggregate-id", "o-1",
                               "--event-type", "Placed", "--payload", "{\"total\":3}", "--expected-version", "none"},
                              env);
  INFO(one.out << one.err);
  REQUIRE(one.exit_code == 0);
  CHECK_THAT(one.out, Catch::Contains("\"aggregate_version\":1"));

  const std::string lines =
      "{\"aggregate_type\":\"order\",\"aggregate_id\":\"o-1\",\"event_type\":\"Paid\",\"payload\":{\"a\":1},\"expected_version\":1}\n"
      "{\"aggregate_type\":\"order\",\"aggregate_id\":\"o-2\",\"event_type\":\"Placed\",\"payload\":\"x\"}\n"
      "{\"aggregate_type\":\"order\",\"aggregate_id\":\"o-1\",\"event_type\":\"Late\",\"expected_version\":1}\n";
  const auto many = RunProcess({PROJD_BINARY, "append", "--stdin"}, env, lines);
  INFO(many.out << many.err);
  CHECK(many.exit_code == 1);  // the third line conflicts
  CHECK_THAT(many.err, Catch::Contains("appended 2 event(s), 1 conflict(s)"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 3);
  CHECK(db.Scalar<std::string>("SELECT convert_from(payload, 'UTF8') FROM events WHERE event_type = 'Paid'") ==
        "{\"a\":1}");
}

TEST_CASE("projd seed loads the requested events and reports a rate", "[pg][cli][seed]") {
  PgTestSchema db;
  const auto r = RunProcess({PROJD_BINARY, "seed", "--aggregates", "50", "--events", "5000"},
                            {{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("seeded 5000 events over 50 aggregates") && Catch::Contains("events/s"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 5000);
  CHECK(db.Scalar<int>("SELECT count(DISTINCT aggregate_id) FROM events") == 50);
}

TEST_CASE("projd demo runs three workers with a handover against DATABASE_URL", "[pg][cli][demo]") {
  PgTestSchema db(/*migrate=*/false);
  const auto r = RunProcess({PROJD_BINARY, "demo", "--events", "2000", "--aggregates", "100"},
                            {{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("holds 2000 events in 100 aggregates"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 2000);
  // Three workers caught up, one stopped with SIGTERM and one joined; checked exactly once.
  CHECK_THAT(r.out, Catch::Contains("started 3 workers of replica set demo"));
  CHECK_THAT(r.out, Catch::Contains("demo-2 stopped with SIGTERM (exit 0), demo-4 joined"));
  CHECK_THAT(r.out, Catch::Contains("exactly once: stream_stats matches the events of every aggregate"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_workers WHERE replica_set = 'demo'") == 0);
}

TEST_CASE("projd demo without DATABASE_URL starts and removes a private PostgreSQL", "[pg][cli][demo]") {
  const auto r = RunProcess({PROJD_BINARY, "demo", "--events", "1000", "--aggregates", "10"},
                            {{"-DATABASE_URL", ""}});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("starting a private PostgreSQL") &&
                        Catch::Contains("holds 1000 events in 10 aggregates"));
  const auto at = r.out.find("data in ");
  REQUIRE(at != std::string::npos);
  const auto dir = r.out.substr(at + 8, r.out.find(')', at) - at - 8);
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("projd read prints the events of the chosen partitions as JSON lines", "[pg][cli][reader]") {
  PgTestSchema db;
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type, payload)"
          " SELECT 'c', 't', 'id-' || (g % 20), g / 20 + 1, 'E', convert_to('p' || g, 'UTF8')"
          " FROM generate_series(0, 199) g");
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type, payload)"
          " VALUES ('c', 't', 'binary', 1, 'B', '\\xff00'::bytea)");
  const std::map<std::string, std::string> env{{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()},
                                               {"PARTITIONS", "4"}, {"BATCH_SIZE", "7"}};
  const auto all = RunProcess({PROJD_BINARY, "read"}, env);
  INFO(all.err);
  REQUIRE(all.exit_code == 0);
  CHECK(std::count(all.out.begin(), all.out.end(), '\n') == 201);
  CHECK_THAT(all.out, Catch::Contains("\"payload\":\"\\\\xff00\""));

  const auto some = RunProcess({PROJD_BINARY, "read", "--partitions", "1,3", "--from", "50"}, env);
  REQUIRE(some.exit_code == 0);
  const auto expected = db.Scalar<int>("SELECT count(*) FROM events WHERE partition_hash % 4 IN (1, 3)"
                                       " AND global_position > 50");
  CHECK(std::count(some.out.begin(), some.out.end(), '\n') == expected);
  CHECK(some.out.find("\"partition\":0") == std::string::npos);
  CHECK(some.out.find("\"partition\":2") == std::string::npos);

  const auto limited = RunProcess({PROJD_BINARY, "read", "--limit", "5"}, env);
  CHECK(std::count(limited.out.begin(), limited.out.end(), '\n') == 5);
  CHECK_THAT(limited.out, Catch::StartsWith("{\"aggregate_id\":\"id-0\""));

  const auto bad = RunProcess({PROJD_BINARY, "read", "--partitions", "9"}, env);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("'9' is not a partition of 0..3"));
}
