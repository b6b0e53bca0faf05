// `projd status` as an operator runs it: the partition table after the summary, --json with
// the partition rows, the choice of one projection, and --watch on a pipe (frames, a
// database that goes away, SIGTERM).
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"
#include "tests/support/tcp_proxy.h"

using namespace std::chrono_literals;
using projd::testing::ChildProcess;
using projd::testing::PgTestSchema;
using projd::testing::RunProcess;
using projd::testing::LibpqValue;
using projd::testing::TcpProxy;
using projd::testing::ThroughProxy;
using projd::testing::WaitFor;

namespace {

// Replica set `rs` (4 partitions): alpha owns 0 and 1 and reports partition 0 failing;
// `orders` has checkpoints at 10 of 20 events, `stock` at 20 with its partition 3 paused.
void Populate(const PgTestSchema& db) {
  db.Exec("INSERT INTO projd_replica_sets (name, partitions, generation) VALUES ('rs', 4, 2)");
  db.Exec("INSERT INTO projd_workers (worker_id, replica_set, worker_name) VALUES ('id-a', 'rs', 'alpha')");
  db.Exec("INSERT INTO projd_assignments (replica_set, partition, generation, worker_id, worker_name) VALUES"
          " ('rs', 0, 2, 'id-a', 'alpha'), ('rs', 1, 2, 'id-a', 'alpha')");
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " SELECT 'c', 't', 'agg-' || (g % 5), g / 5 + 1, 'E' FROM generate_series(0, 19) g");
  db.Exec("INSERT INTO projd_checkpoints (replica_set, projection, partition, position)"
          " SELECT 'rs', 'orders', p, 10 FROM generate_series(0, 3) p"
          " UNION ALL SELECT 'rs', 'stock', p, 20 FROM generate_series(0, 3) p");
  db.Exec("INSERT INTO projd_projection_pauses (replica_set, projection, partition, reason) VALUES ('rs', 'stock', 3, 'x')");
  db.Exec("INSERT INTO projd_partition_states (replica_set, projection, partition, worker_id, state, last_error, error_at)"
          " VALUES ('rs', 'orders', 0, 'id-a', 'failing', 'handler threw: boom', now())");
}

std::map<std::string, std::string> Env(const PgTestSchema& db) {
  return {{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}, {"REPLICA_SET", "rs"}};
}

// The line of the partition table for (projection, partition).
std::string TableLine(const std::string& out, const std::string& projection, int partition) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    int p = -1;
    if (words >> name >> p && name == projection && p == partition) return line;
  }
  return "";
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}


std::string LogPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("projd-status-" + name + "-" + std::to_string(::getpid()) + ".log"))
      .string();
}

}  // namespace

TEST_CASE("projd status prints the partition table after the summary", "[pg][cli][status]") {
  PgTestSchema db;
  Populate(db);
  const auto r = RunProcess({PROJD_BINARY, "status"}, Env(db));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // The summary is unchanged and comes first.
  const auto summary = r.out.find("replica set rs: generation 2");
  const auto table = r.out.find("PROJECTION PART");
  REQUIRE(summary != std::string::npos);
  REQUIRE(table != std::string::npos);
  CHECK(summary < table);
  CHECK_THAT(r.out, Catch::Contains("LAG (EVENTS)"));

  const auto failing = TableLine(r.out.substr(table), "orders", 0);
  CHECK_THAT(failing, Catch::Contains(" 10 ") && Catch::Contains(" failing ") && Catch::Contains(" alpha ") &&
                          Catch::Contains("handler threw: boom"));
  CHECK_THAT(TableLine(r.out.substr(table), "orders", 2), Catch::Contains(" unassigned ") && Catch::Contains(" - "));
  CHECK_THAT(TableLine(r.out.substr(table), "stock", 3), Catch::Contains(" paused "));
  CHECK_THAT(TableLine(r.out.substr(table), "stock", 2), Catch::Contains(" 0 s "));  // caught up
}

TEST_CASE("projd status --json has the partition rows, and NAME selects one projection", "[pg][cli][status]") {
  PgTestSchema db;
  Populate(db);
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{PROJD_BINARY, "status", "orders", "--json"},
        std::vector<std::string>{PROJD_BINARY, "status", "--projection", "orders", "--json"}}) {
    const auto r = RunProcess(argv, Env(db));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto json = nlohmann::json::parse(r.out);
    CHECK(json["selected_projection"] == "orders");
    CHECK(json["generation"] == 2);
    REQUIRE(json["projections"].size() == 1);  // the summary narrowed too
    CHECK(json["projections"][0]["name"] == "orders");
    const auto& rows = json["projection_partitions"];
    REQUIRE(rows.size() == 4);
    for (const auto& row : rows) CHECK(row["projection"] == "orders");
    CHECK(rows[0]["position"] == 10);
    CHECK(rows[0]["lag_events"] == 10);
    CHECK(rows[0]["state"] == "failing");
    CHECK(rows[0]["state_source"] == "owner");
    CHECK(rows[0]["owner"] == "alpha");
    CHECK(rows[0]["last_error"] == "handler threw: boom");
    CHECK(rows[0]["report"]["current"] == true);
    CHECK(rows[3]["owner"] == "unassigned");
    CHECK(rows[3]["state"] == "-");
    CHECK(rows[3]["report"].is_null());
  }
  const auto all = nlohmann::json::parse(RunProcess({PROJD_BINARY, "status", "--json"}, Env(db)).out);
  CHECK(all["projection_partitions"].size() == 8);
  CHECK(all["selected_projection"].is_null());
  CHECK(all["projection_partitions"][7]["pause"]["scope"] == "partition");
}

TEST_CASE("projd status refuses a bad --watch interval or two different projections with exit 2",
          "[pg][cli][status]") {
  PgTestSchema db;
  const auto zero = RunProcess({PROJD_BINARY, "status", "--watch", "0s"}, Env(db));
  CHECK(zero.exit_code == 2);
  CHECK_THAT(zero.err, Catch::Contains("--watch 0s: must be at least 100ms"));
  const auto word = RunProcess({PROJD_BINARY, "status", "--watch", "soon"}, Env(db));
  CHECK(word.exit_code == 2);
  CHECK_THAT(word.err, Catch::Contains("--watch soon: not a duration"));
  const auto two = RunProcess({PROJD_BINARY, "status", "orders", "--projection", "stock"}, Env(db));
  CHECK(two.exit_code == 2);
  CHECK_THAT(two.err, Catch::Contains("projection given twice"));
}

TEST_CASE("projd status --watch on a pipe appends frames until SIGTERM, then exits 0", "[pg][cli][status][watch]") {
  PgTestSchema db;
  Populate(db);
  const auto log = LogPath("watch");
  ChildProcess watch({PROJD_BINARY, "status", "--watch", "200ms"}, Env(db), log);
  const auto header = std::string("projd status --watch 200ms: replica set rs at ");
  REQUIRE(WaitFor([&] { return Count(watch.Log(), header) >= 2; }, 30s));
  watch.Signal(SIGTERM);
  const auto code = watch.Wait(10s);
  const auto out = watch.Log();
  INFO(out);
  REQUIRE(code);
  CHECK(*code == 0);
  // Whole frames, each a snapshot with the table; no terminal control on a pipe.
  CHECK(Count(out, "PROJECTION PART") == Count(out, header));
  CHECK(Count(out, "\x1b[") == 0);
  CHECK_THAT(out, Catch::Contains("\n\nprojd status --watch 200ms"));  // frames apart
  std::filesystem::remove(log);
}

TEST_CASE("projd status --watch --json prints one JSON object a line", "[pg][cli][status][watch]") {
  PgTestSchema db;
  Populate(db);
  const auto log = LogPath("watch-json");
  ChildProcess watch({PROJD_BINARY, "status", "--watch=200ms", "--json", "stock"}, Env(db), log);
  REQUIRE(WaitFor([&] { return Count(watch.Log(), "\n") >= 2; }, 30s));
  watch.Signal(SIGINT);
  const auto code = watch.Wait(10s);
  REQUIRE(code);
  CHECK(*code == 0);
  std::istringstream lines(watch.Log());
  std::string line;
  int objects = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    const auto json = nlohmann::json::parse(line);
    CHECK(json["projection_partitions"].size() == 4);
    ++objects;
  }
  CHECK(objects >= 2);
  std::filesystem::remove(log);
}

TEST_CASE("projd status --watch shows a database that went away in the frame, password masked, and keeps trying",
          "[pg][cli][status][watch]") {
  PgTestSchema db;
  Populate(db);
  TcpProxy proxy{LibpqValue(db.url(), "host"), std::stoi(LibpqValue(db.url(), "port"))};
  const auto url = ThroughProxy(db.url(), proxy.port());
  REQUIRE_FALSE(url.empty());
  auto env = Env(db);
  // A password (the test server trusts 127.0.0.1 and ignores it) that no frame may show.
  env["DATABASE_URL"] = url + (url.find('?') == std::string::npos ? "?" : "&") + "password=hunter2-watch";
  const auto log = LogPath("watch-down");
  ChildProcess watch({PROJD_BINARY, "status", "--watch", "200ms"}, env, log);
  REQUIRE(WaitFor([&] { return Count(watch.Log(), "PROJECTION PART") >= 1; }, 30s));
  proxy.Refuse();
  // Two failed attempts in a row: still running, the last snapshot shown under the error.
  REQUIRE(WaitFor([&] { return Count(watch.Log(), "database error (attempt 2") >= 1; }, 60s));
  CHECK(watch.running());
  const auto out = watch.Log();
  INFO(out);
  const auto error = out.find("database error (attempt 1");
  REQUIRE(error != std::string::npos);
  CHECK_THAT(out.substr(error), Catch::Contains("last snapshot read") && Catch::Contains("PROJECTION PART"));
  CHECK(out.find("hunter2-watch") == std::string::npos);
  watch.Signal(SIGTERM);
  const auto code = watch.Wait(30s);
  REQUIRE(code);
  CHECK(*code == 0);
  std::filesystem::remove(log);
}
