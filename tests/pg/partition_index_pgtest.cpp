// The partition indexes' life cycle (docs/operations.md, "Database maintenance"): a build
// shows its phase while it runs (IndexBuildProgress), and the index of a partition count no
// replica set and not PARTITIONS uses is dropped (RetireUnusedPartitionIndexes), in this
// schema only. A build is made to wait deterministically by a writer transaction left open on
// events: CREATE INDEX CONCURRENTLY waits for it in the phase "waiting for writers before
// build", whose line names the writer's pid.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "orchestrator/reading/pg/index_build_progress.h"
#include "orchestrator/reading/pg/partition_index.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::pg::IndexBuildSample;
using projd::pg::PartitionIndexName;
using projd::testing::PgTestSchema;

namespace {

void Seed(const PgTestSchema& db, int events) {
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " SELECT 'sales', 'A', 'agg-' || (i % 50), i / 50 + 1, 'E' FROM generate_series(0, " +
          std::to_string(events - 1) + ") AS i");
}

bool HasIndex(const PgTestSchema& db, int partitions) {
  auto conn = db.Connect();
  pqxx::nontransaction tx(*conn);
  return projd::pg::HasPartitionIndex(tx, partitions);
}

void Ensure(const PgTestSchema& db, int partitions) {
  auto conn = db.Connect();
  projd::pg::EnsurePartitionIndex(*conn, db.options(), partitions, [](const std::string&) {});
}

// Runs fn on a test's helper thread: returns its error ("" for none) for the test's thread
// to check (Catch's macros are not for other threads; an escaping exception would terminate).
template <typename Fn>
std::string Failure(Fn&& fn) {
  try {
    fn();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Lines reported from another thread, and a wait for one of them.
class Lines {
 public:
  void Add(const std::string& line) {
    {
      std::lock_guard lock(mu_);
      lines_.push_back(line);
    }
    cv_.notify_all();
  }
  bool WaitFor(const std::string& part, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::any_of(lines_.begin(), lines_.end(), [&](const auto& l) { return l.find(part) != std::string::npos; });
    });
  }
  std::vector<std::string> All() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// A transaction that has inserted into events and stays open until Commit(): holds the
// RowExclusiveLock that a concurrent index build waits for.
class OpenWriter {
 public:
  explicit OpenWriter(const PgTestSchema& db) : conn_(db.Connect()), tx_(*conn_) {
    pid_ = tx_.exec1("SELECT pg_backend_pid()")[0].as<int>();
    tx_.exec0("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
              " VALUES ('sales', 'A', 'open-writer', 1, 'E')");
  }
  int pid() const { return pid_; }
  void Commit() {
    if (!done_) tx_.commit();
    done_ = true;
  }

 private:
  std::unique_ptr<pqxx::connection> conn_;
  pqxx::work tx_;
  int pid_ = 0;
  bool done_ = false;
};

}  // namespace

TEST_CASE("a build's progress line shows the phase and the share done of what it counts", "[index]") {
  const std::string name = PartitionIndexName(64);
  IndexBuildSample scan{"building index: scanning table", 1234, 2900};
  CHECK(projd::pg::FormatIndexBuildLine(name, scan) ==
        "index events_projd_partition_64: building index: scanning table 42 % (1234/2900 blocks)");
  // Loading counts tuples; the blocks of the finished scan are still in the view.
  IndexBuildSample load{"building index: loading tuples in tree", 2900, 2900, 250, 1000};
  CHECK(projd::pg::FormatIndexBuildLine(name, load) ==
        "index events_projd_partition_64: building index: loading tuples in tree 25 % (250/1000 tuples)");
  IndexBuildSample wait{"waiting for old snapshots", 0, 0, 0, 0, 1, 3, 4321};
  CHECK(projd::pg::FormatIndexBuildLine(name, wait) ==
        "index events_projd_partition_64: waiting for old snapshots: 1 of 3 transactions ended, waiting for pid 4321");
  CHECK(projd::pg::FormatIndexBuildLine(name, {"initializing"}) == "index events_projd_partition_64: initializing");
  // Nothing counted yet: no percentage out of nothing.
  CHECK(projd::pg::FormatIndexBuildLine(name, {"building index: scanning table"}) ==
        "index events_projd_partition_64: building index: scanning table");
}

TEST_CASE("a build prints one line per phase and tenth of its counter", "[index]") {
  const auto step = [](const std::string& phase, std::int64_t done) {
    return projd::pg::IndexBuildStep({phase, done, 1000});
  };
  CHECK(step("building index: scanning table", 420) == step("building index: scanning table", 499));
  CHECK(step("building index: scanning table", 420) != step("building index: scanning table", 500));
  CHECK(step("building index: scanning table", 1000) != step("index validation: scanning table", 1000));
  CHECK(step("building index: sorting live tuples", 1) == step("building index: sorting live tuples", 999));
}

TEST_CASE("the watcher reports the phase of a build in another session and stops quietly", "[pg][index]") {
  PgTestSchema db;
  Seed(db, 100);
  OpenWriter writer(db);
  auto builder = db.Connect();
  const int builder_pid = builder->backendpid();
  Lines lines;
  projd::pg::IndexBuildProgress watch(db.options(), builder_pid, "events_by_type",
                                      [&](const std::string& l) { lines.Add(l); }, 20ms);
  std::string failure;
  std::thread build([&] {
    failure = Failure([&] { pqxx::nontransaction(*builder).exec0("CREATE INDEX CONCURRENTLY events_by_type ON events (event_type)"); });
  });
  const bool seen = lines.WaitFor("waiting for writers before build", 60s);
  writer.Commit();
  build.join();
  watch.Stop();
  CHECK(failure.empty());
  INFO(Catch::Detail::stringify(lines.All()));
  REQUIRE(seen);
  CHECK_THAT(lines.All(), Catch::VectorContains(std::string(
                              "index events_by_type: waiting for writers before build: 0 of 1 transactions ended,"
                              " waiting for pid " + std::to_string(writer.pid()))));
  // Each line is a new step: the 20 ms polls of a long wait repeat nothing.
  const auto all = lines.All();
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  watch.Stop();  // again: nothing happens
}

TEST_CASE("EnsurePartitionIndex prints the build's phase between its start and end lines", "[pg][index]") {
  PgTestSchema db;
  Seed(db, 100);
  OpenWriter writer(db);
  Lines lines;
  std::string failure;
  std::thread ensure([&] {
    failure = Failure([&] {
      auto conn = db.Connect();
      projd::pg::EnsurePartitionIndex(*conn, db.options(), 16, [&](const std::string& l) { lines.Add(l); });
    });
  });
  // The watcher's first look comes after its interval (2 s): a quick build says nothing more.
  const bool seen = lines.WaitFor("index events_projd_partition_16: waiting for writers before build", 60s);
  writer.Commit();
  ensure.join();
  CHECK(failure.empty());
  const auto all = lines.All();
  INFO(Catch::Detail::stringify(all));
  REQUIRE(seen);
  REQUIRE(all.size() >= 3);
  CHECK_THAT(all.front(), Catch::StartsWith("creating index events_projd_partition_16"));
  CHECK_THAT(all[1], Catch::Contains("0 of 1 transactions ended, waiting for pid " + std::to_string(writer.pid())));
  CHECK_THAT(all.back(), Catch::StartsWith("index events_projd_partition_16 created in"));
  CHECK(HasIndex(db, 16));
}

TEST_CASE("retiring drops the index of a count nothing uses and keeps replica sets' and PARTITIONS'",
          "[pg][index]") {
  PgTestSchema db;
  Seed(db, 500);
  for (const int p : {8, 16, 32}) Ensure(db, p);
  db.Exec("INSERT INTO projd_replica_sets (name, partitions) VALUES ('orders', 16)");
  auto conn = db.Connect();
  const auto plan = projd::pg::PlanPartitionIndexes(*conn, 32);
  CHECK(plan.create.empty());
  CHECK(plan.drop == std::vector<int>{8});

  std::vector<std::string> lines;
  const auto dropped =
      projd::pg::RetireUnusedPartitionIndexes(*conn, 32, [&](const std::string& l) { lines.push_back(l); });
  CHECK(dropped == std::vector<int>{8});
  CHECK_FALSE(HasIndex(db, 8));
  CHECK(db.Scalar<bool>("SELECT to_regclass('events_projd_partition_8') IS NULL"));
  CHECK(HasIndex(db, 16));
  CHECK(HasIndex(db, 32));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "dropping index events_projd_partition_8 concurrently: no replica set uses 8 partitions"
                    " and PARTITIONS is 32");
  CHECK_THAT(lines[1], Catch::StartsWith("index events_projd_partition_8 dropped in"));

  lines.clear();
  CHECK(projd::pg::RetireUnusedPartitionIndexes(*conn, 32, [&](const std::string& l) { lines.push_back(l); }).empty());
  CHECK(lines.empty());
}

TEST_CASE("retiring never touches another schema's events nor indexes projd did not make", "[pg][index]") {
  PgTestSchema mine, theirs;
  for (const auto* db : {&mine, &theirs}) {
    Seed(*db, 100);
    Ensure(*db, 8);
  }
  mine.Exec("CREATE INDEX events_by_type ON events (event_type)");
  mine.Exec("CREATE INDEX events_projd_partition_08 ON events (event_type)");  // not a name projd makes
  auto conn = mine.Connect();
  CHECK(projd::pg::RetireUnusedPartitionIndexes(*conn, 16, [](const std::string&) {}) == std::vector<int>{8});
  CHECK_FALSE(HasIndex(mine, 8));
  CHECK(HasIndex(theirs, 8));
  CHECK(mine.Scalar<bool>("SELECT to_regclass('events_by_type') IS NOT NULL"));
  CHECK(mine.Scalar<bool>("SELECT to_regclass('events_projd_partition_08') IS NOT NULL"));
}

TEST_CASE("a merging reader whose index is retired between batches reads on, planned again", "[pg][index][reader]") {
  PgTestSchema db;
  Seed(db, 2000);
  Ensure(db, 64);
  projd::pg::PgEventReader reader(db.options());
  projd::ReadRequest req;
  req.partition_count = 64;
  // A partition with events (50 aggregates over 64 partitions leave some empty).
  req.after = {{db.Scalar<int>("SELECT (coalesce(partition_hash, projd_fnv1a32(aggregate_id)) % 64)::int FROM events"
                               " LIMIT 1"), 0}};
  req.high_water_mark = 2000;
  req.limit = 100;
  const auto before = reader.ReadBatch(req);
  REQUIRE(reader.last_plan() == projd::pg::PgEventReader::ReadPlan::kPartitionMerge);
  REQUIRE_FALSE(before.events.empty());

  auto conn = db.Connect();
  REQUIRE(projd::pg::RetireUnusedPartitionIndexes(*conn, 16, [](const std::string&) {}) == std::vector<int>{64});
  // The reader looks for the index again only after a minute: this batch runs the statement
  // prepared with the index, which PostgreSQL plans again without it.
  const auto after = reader.ReadBatch(req);
  CHECK(reader.last_plan() == projd::pg::PgEventReader::ReadPlan::kPartitionMerge);
  REQUIRE(after.events.size() == before.events.size());
  for (std::size_t i = 0; i < after.events.size(); ++i) {
    CHECK(after.events[i].event.global_position == before.events[i].event.global_position);
  }
  CHECK(after.scanned_to == before.scanned_to);
}

TEST_CASE("projd migrate builds the indexes in use and drops the unused, --dry-run only lists them",
          "[pg][index][process]") {
  PgTestSchema db;
  Seed(db, 100);
  Ensure(db, 8);
  db.Exec("INSERT INTO projd_replica_sets (name, partitions) VALUES ('orders', 16)");
  const std::map<std::string, std::string> env{
      {"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}, {"PARTITIONS", "32"}};

  const auto dry = projd::testing::RunProcess({PROJD_BINARY, "migrate", "--dry-run"}, env);
  INFO(dry.out << dry.err);
  REQUIRE(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains("would create index events_projd_partition_16\n"));
  CHECK_THAT(dry.out, Catch::Contains("would create index events_projd_partition_32\n"));
  CHECK_THAT(dry.out, Catch::Contains("would drop index events_projd_partition_8 (unused)\n"));
  CHECK(HasIndex(db, 8));
  CHECK_FALSE(HasIndex(db, 16));

  const auto run = projd::testing::RunProcess({PROJD_BINARY, "migrate"}, env);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("index events_projd_partition_16 created"));
  CHECK_THAT(run.out, Catch::Contains("index events_projd_partition_32 created"));
  CHECK_THAT(run.out, Catch::Contains("index events_projd_partition_8 dropped"));
  CHECK(run.out.find("created") < run.out.find("dropped"));  // retired after the builds
  CHECK(HasIndex(db, 16));
  CHECK(HasIndex(db, 32));
  CHECK_FALSE(HasIndex(db, 8));

  // Before the migrations: only PARTITIONS' index is to be built, nothing to read yet.
  PgTestSchema fresh(false);
  const auto empty = projd::testing::RunProcess({PROJD_BINARY, "migrate", "--dry-run"},
                                                {{"DATABASE_URL", fresh.url()}, {"DATABASE_SCHEMA", fresh.schema()},
                                                 {"PARTITIONS", "32"}});
  INFO(empty.out << empty.err);
  REQUIRE(empty.exit_code == 0);
  CHECK_THAT(empty.out, Catch::Contains("pending 0001_event_store"));
  CHECK_THAT(empty.out, Catch::EndsWith("would create index events_projd_partition_32\n"));
}

TEST_CASE("projd partitions split drops the old count's index after the switch unless PARTITIONS still uses it",
          "[pg][index][process]") {
  PgTestSchema db;
  Seed(db, 100);
  Ensure(db, 16);
  db.Exec("INSERT INTO projd_replica_sets (name, partitions) VALUES ('orders', 16)");
  std::map<std::string, std::string> env{{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()},
                                         {"REPLICA_SET", "orders"}, {"PARTITIONS", "16"}};

  // The workers' configuration: PARTITIONS=16 keeps the index of 16, and the split says so.
  const auto first = projd::testing::RunProcess({PROJD_BINARY, "partitions", "split"}, env);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("16 -> 32"));
  CHECK_THAT(first.out, Catch::Contains("index events_projd_partition_16 is kept while PARTITIONS is 16;"
                                        " with PARTITIONS=32 the next `projd migrate` drops it"));
  CHECK(first.out.find("dropped") == std::string::npos);
  CHECK(HasIndex(db, 16));
  CHECK(HasIndex(db, 32));

  env["PARTITIONS"] = "64";
  const auto second = projd::testing::RunProcess({PROJD_BINARY, "partitions", "split"}, env);
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("index events_projd_partition_16 dropped"));
  CHECK_THAT(second.out, Catch::Contains("index events_projd_partition_32 dropped"));
  CHECK(second.out.find("32 -> 64") < second.out.find("dropping index"));  // only once the set has switched
  CHECK(second.out.find("is kept") == std::string::npos);
  CHECK_FALSE(HasIndex(db, 16));
  CHECK_FALSE(HasIndex(db, 32));
  CHECK(HasIndex(db, 64));
}
