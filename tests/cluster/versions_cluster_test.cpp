// Projection versions with real worker processes: the `ledger` projection of
// tests/cluster/versioned_ledger.cc as old code (version 1) and new code (versions 1 and 2),
// deployed the way pods are rolled: a new version builds beside the serving one in its own
// schema, readers of the stable name are switched in one transaction, a deploy is rolled
// back, a switch is undone, versions are dropped. Every scenario ends by comparing the read
// model with the events table (exactly once per version).
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "orchestrator/pg/connection.h"
#include "tests/support/appender.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::Appender;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

const std::string kOldCode = PROJD_LEDGER_V1_WORKER;  // version 1 only
const std::string kNewCode = PROJD_LEDGER_V1V2_WORKER;  // versions 1 and 2

// The fleet's defaults, running the ledger projection (every version the binary has).
std::map<std::string, std::string> LedgerSettings(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> settings{{"PROJECTIONS", "ledger"}, {"BATCH_SIZE", "200"}};
  for (const auto& [k, v] : extra) settings[k] = v;
  return settings;
}

// Drops the version schemas a test leaves beside its private schema (PgTestSchema drops only
// its own). Declared before the fleet, so the workers are gone when it runs.
class VersionSchemas {
 public:
  ~VersionSchemas() {
    if (url_.empty()) return;
    try {
      auto c = projd::pg::Connect({url_, "public", "projd-test"});
      pqxx::work tx(*c);
      for (const auto* v : {"1", "2"}) tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(stable_ + "_ledger_v" + v) + " CASCADE");
      tx.commit();
    } catch (const std::exception&) {
      // The schemas die with the test server.
    }
  }
  void Of(WorkerFleet& fleet) {
    url_ = fleet.db().url();
    stable_ = fleet.db().schema();
  }

 private:
  std::string url_, stable_;
};

// Where version `version` of ledger lives once it has a schema of its own.
std::string VersionSchema(WorkerFleet& fleet, int version) {
  return fleet.db().schema() + "_ledger_v" + std::to_string(version);
}

// The state of a ledger version in projd_projection_versions ("" when unknown).
std::string State(WorkerFleet& fleet, int version) {
  const auto r = fleet.db().Exec(
      "SELECT state FROM projd_projection_versions WHERE replica_set = 'fleet' AND projection = 'ledger'"
      " AND version = " + std::to_string(version));
  return r.empty() ? "" : r[0][0].as<std::string>();
}

// Its read_model_schema ("(in place)" for NULL, "" when unknown).
std::string RecordedSchema(WorkerFleet& fleet, int version) {
  const auto r = fleet.db().Exec(
      "SELECT coalesce(read_model_schema, '(in place)') FROM projd_projection_versions"
      " WHERE replica_set = 'fleet' AND projection = 'ledger' AND version = " + std::to_string(version));
  return r.empty() ? "" : r[0][0].as<std::string>();
}

bool SchemaExists(WorkerFleet& fleet, const std::string& schema) {
  return fleet.db().Scalar<bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '" + schema + "')");
}

// pg_class.relkind of schema.name: 'r' a table, 'v' a view, "" none.
std::string RelKind(WorkerFleet& fleet, const std::string& schema, const std::string& name) {
  const auto r = fleet.db().Exec("SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                 " WHERE n.nspname = '" + schema + "' AND c.relname = '" + name + "'");
  return r.empty() ? "" : r[0][0].as<std::string>();
}

std::vector<std::string> Columns(WorkerFleet& fleet, const std::string& schema, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& r : fleet.db().Exec("SELECT column_name FROM information_schema.columns WHERE table_schema = '" +
                                       schema + "' AND table_name = '" + name + "' ORDER BY ordinal_position")) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

// Like WorkerFleet::Settled, with `lane`'s checkpoints as the proof that every owner has
// taken its partitions (the ledger binaries have no stream_stats).
bool SettledOn(WorkerFleet& fleet, int members, const std::string& lane) {
  const auto r = fleet.db().Exec(
      "SELECT count(*), coalesce(bool_and(w.acked_generation = s.generation), false)"
      " FROM projd_workers w JOIN projd_replica_sets s ON s.name = w.replica_set WHERE s.name = 'fleet'");
  if (r[0][0].as<int>() != members || !r[0][1].as<bool>()) return false;
  const auto owners = fleet.Owners();
  if (static_cast<int>(owners.size()) != std::min(members, fleet.Partitions())) return false;
  int total = 0, lo = 1 << 30, hi = 0;
  for (const auto& [n, c] : owners) {
    total += c;
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  if (total != fleet.Partitions() || hi - lo > 1) return false;
  return fleet.db().Scalar<int>(
             "SELECT count(*) FROM projd_assignments a JOIN projd_replica_sets s ON s.name = a.replica_set"
             " LEFT JOIN projd_checkpoints c ON c.replica_set = a.replica_set AND c.partition = a.partition"
             "  AND c.projection = '" + lane + "'"
             " WHERE a.replica_set = 'fleet' AND a.partition < s.partitions"
             "  AND c.writer IS DISTINCT FROM a.worker_id") == 0;
}

// Sum of `lane`'s checkpoint positions (all partitions, or those `worker` wrote last).
std::int64_t Progress(WorkerFleet& fleet, const std::string& lane, const std::string& worker = "") {
  std::string sql = "SELECT coalesce(sum(c.position), 0)::bigint FROM projd_checkpoints c";
  if (!worker.empty()) sql += " JOIN projd_workers w ON w.worker_id = c.writer AND w.worker_name = '" + worker + "'";
  return fleet.db().Scalar<std::int64_t>(sql + " WHERE c.replica_set = 'fleet' AND c.projection = '" + lane + "'");
}

// Rows of `relation` (a version 2 ledger) that disagree with the events: each aggregate's
// event count, sum of versions and last position, either way round (0: exactly once).
std::int64_t V2Mismatches(WorkerFleet& fleet, const std::string& relation) {
  return fleet.db().Scalar<std::int64_t>(
      "SELECT count(*) FROM (SELECT aggregate_id, count(*) AS n, sum(aggregate_version) AS vs,"
      "  max(global_position) AS lp FROM events GROUP BY 1) e"
      " FULL JOIN " + relation + " l USING (aggregate_id)"
      " WHERE l.events IS DISTINCT FROM e.n OR l.version_sum IS DISTINCT FROM e.vs"
      "  OR l.last_position IS DISTINCT FROM e.lp");
}

// The same for version 2's ledger_types (events per aggregate type).
std::int64_t TypeMismatches(WorkerFleet& fleet, const std::string& relation) {
  return fleet.db().Scalar<std::int64_t>(
      "SELECT count(*) FROM (SELECT aggregate_type, count(*) AS n FROM events GROUP BY 1) e"
      " FULL JOIN " + relation + " t USING (aggregate_type) WHERE t.events IS DISTINCT FROM e.n");
}

// Rows of `relation` (a version 1 ledger) that disagree with the events up to version 1's
// checkpoint on each partition: all events once version 1 has caught up, and after a switch
// away from it exactly what it had applied when it was fenced.
std::int64_t V1Mismatches(WorkerFleet& fleet, const std::string& relation) {
  return fleet.db().Scalar<std::int64_t>(
      "WITH cp AS (SELECT partition, position FROM projd_checkpoints WHERE replica_set = 'fleet'"
      "            AND projection = 'ledger'),"
      " e AS (SELECT ev.aggregate_id, count(*) AS n, max(ev.global_position) AS lp FROM events ev"
      "       JOIN cp ON cp.partition = coalesce(ev.partition_hash, projd_fnv1a32(ev.aggregate_id))"
      "         % (SELECT partitions FROM projd_replica_sets WHERE name = 'fleet')"
      "        AND ev.global_position <= cp.position GROUP BY 1)"
      " SELECT count(*) FROM e FULL JOIN " + relation + " l USING (aggregate_id)"
      " WHERE l.events IS DISTINCT FROM e.n OR l.last_position IS DISTINCT FROM e.lp");
}

// The lines of worker `name`'s log that contain `phrase`.
std::vector<std::string> LogLines(WorkerFleet& fleet, const std::string& name, const std::string& phrase) {
  std::vector<std::string> out;
  std::istringstream log(fleet.Worker(name).Log());
  for (std::string line; std::getline(log, line);) {
    if (line.find(phrase) != std::string::npos) out.push_back(line);
  }
  return out;
}

void Terminate(WorkerFleet& fleet, const std::string& name) {
  fleet.Worker(name).Signal(SIGTERM);
  const auto code = fleet.Worker(name).Wait(15s);
  REQUIRE(code.has_value());
  const auto stopped = LogLines(fleet, name, "worker stopped");
  INFO(name << ": " << (stopped.empty() ? "no stop line in its log" : stopped.back()));
  CHECK(*code == 0);  // drained, deregistered: what a rolling deploy's SIGTERM promises
}

// A reader of the stable name `ledger`, querying it every few milliseconds on its own
// connection as an application would, and recording what it must never see: fewer rows than
// before, an aggregate whose count went down or vanished, or an error.
class StableReader {
 public:
  explicit StableReader(WorkerFleet& fleet)
      : options_(fleet.db().options()), thread_([this] { Run(); }) {}
  ~StableReader() { Stop(); }
  StableReader(const StableReader&) = delete;
  StableReader& operator=(const StableReader&) = delete;

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int reads() const { return reads_; }
  std::size_t rows() const { return rows_; }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  void Note(std::string problem) {
    std::lock_guard lock(mu_);
    if (problems_.size() < 20) problems_.push_back(std::move(problem));
  }

  void Run() {
    std::unique_ptr<pqxx::connection> conn;
    std::map<std::string, std::int64_t> last;
    const auto query = "SELECT aggregate_id, events FROM " + options_.schema + ".ledger";
    while (!stop_) {
      try {
        if (!conn || !conn->is_open()) conn = projd::pg::Connect(options_);
        pqxx::nontransaction tx(*conn);
        std::map<std::string, std::int64_t> now;
        for (const auto& r : tx.exec(query)) now[r[0].as<std::string>()] = r[1].as<std::int64_t>();
        const auto read = reads_.load() + 1;
        if (now.size() < last.size()) {
          Note("read " + std::to_string(read) + ": " + std::to_string(now.size()) + " rows after " +
               std::to_string(last.size()));
        }
        for (const auto& [id, events] : last) {
          const auto it = now.find(id);
          if (it == now.end()) {
            Note("read " + std::to_string(read) + ": aggregate " + id + " vanished (had " + std::to_string(events) + ")");
          } else if (it->second < events) {
            Note("read " + std::to_string(read) + ": aggregate " + id + " went from " + std::to_string(events) +
                 " to " + std::to_string(it->second) + " events");
          }
        }
        rows_ = now.size();
        last = std::move(now);
        ++reads_;
      } catch (const std::exception& e) {
        Note("read " + std::to_string(reads_.load() + 1) + " failed: " + e.what());
      }
      std::this_thread::sleep_for(3ms);  // a steady reader, not a flood
    }
  }

  const projd::pg::ConnectionOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reads_{0};
  std::atomic<std::size_t> rows_{0};
  mutable std::mutex mu_;
  std::vector<std::string> problems_;
  std::thread thread_;
};

// Old code on two pods: `events` seeded, version 1 caught up in place.
void StartOldFleet(WorkerFleet& fleet, int events) {
  fleet.UseBinary(kOldCode);
  fleet.Seed(events, 200, "a");
  for (const auto* n : {"old-1", "old-2"}) fleet.Start(n);
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger"); }, 30s));
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger"); }, 30s));
  REQUIRE(State(fleet, 1) == "active");
  REQUIRE(RecordedSchema(fleet, 1) == "(in place)");
  REQUIRE(RelKind(fleet, fleet.db().schema(), "ledger") == "r");
}

// VERSION_SWITCH=manual: old code serves version 1, the new pods replace the old ones and
// build version 2 to ready, `projd versions promote` switches to it, `projd versions
// rollback` switches back to version 1 (now in its own schema); version 2 is retired.
void PromoteThenRollBack(WorkerFleet& fleet) {
  const auto stable = fleet.db().schema();
  StartOldFleet(fleet, 3000);
  fleet.UseBinary(kNewCode);
  for (const auto* n : {"new-1", "new-2"}) fleet.Start(n);
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 4, "ledger"); }, 30s));
  for (const auto* n : {"old-1", "old-2"}) Terminate(fleet, n);
  REQUIRE(WaitFor([&] { return State(fleet, 2) == "ready"; }, 40s));
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger@2"); }, 30s));
  CHECK(State(fleet, 2) == "ready");  // caught up, but not active by itself
  CHECK(State(fleet, 1) == "active");
  CHECK(RelKind(fleet, stable, "ledger") == "r");

  // promote: the stable names show version 2.
  const auto promote = fleet.Projd({"versions", "promote", "ledger", "--timeout", "30s"});
  INFO(promote.out << promote.err);
  REQUIRE(promote.exit_code == 0);
  CHECK_THAT(promote.out, Catch::Contains("version 2 is active (was 1)"));
  CHECK(State(fleet, 2) == "active");
  CHECK(State(fleet, 1) == "retired");
  CHECK(RelKind(fleet, stable, "ledger") == "v");
  CHECK(Columns(fleet, stable, "ledger") ==
        std::vector<std::string>{"aggregate_id", "events", "version_sum", "last_position"});
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);

  // rollback: version 1 again, from the schema it moved to at the switch.
  const auto rollback = fleet.Projd({"versions", "rollback", "ledger"});
  INFO(rollback.out << rollback.err);
  REQUIRE(rollback.exit_code == 0);
  CHECK_THAT(rollback.out, Catch::Contains("version 1 is active (was 2)"));
  CHECK(State(fleet, 1) == "active");
  CHECK(State(fleet, 2) == "retired");
  CHECK(RelKind(fleet, stable, "ledger") == "v");
  CHECK(Columns(fleet, stable, "ledger") == std::vector<std::string>{"aggregate_id", "events", "last_position"});
  CHECK(RelKind(fleet, stable, "ledger_types").empty());  // version 1 has no such table
  CHECK(V1Mismatches(fleet, stable + ".ledger") == 0);
}

}  // namespace

TEST_CASE("a reader of the stable name never sees the model empty, shrinking or going backwards while a new "
          "version builds and switches",
          "[cluster][versions]") {
  VersionSchemas schemas;
  WorkerFleet fleet(LedgerSettings());
  schemas.Of(fleet);
  const auto stable = fleet.db().schema();
  StartOldFleet(fleet, 5000);
  Appender writer(fleet.db().options(), 50);
  StableReader reader(fleet);
  REQUIRE(WaitFor([&] { return reader.reads() > 5 && writer.appended() > 20; }, 10s));
  CHECK(reader.rows() >= 200);

  // The deploy: new pods join beside the old ones; version 2 builds in its own schema.
  fleet.UseBinary(kNewCode);
  for (const auto* n : {"new-1", "new-2"}) fleet.Start(n);
  REQUIRE(WaitFor([&] { return State(fleet, 2) == "building"; }, 20s));
  CHECK(RecordedSchema(fleet, 2) == VersionSchema(fleet, 2));
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 4, "ledger"); }, 30s));
  REQUIRE(WaitFor([&] { return Progress(fleet, "ledger@2") > 0; }, 20s));
  CHECK(RelKind(fleet, VersionSchema(fleet, 2), "ledger") == "r");
  CHECK(RelKind(fleet, stable, "ledger") == "r");  // still version 1's table, serving
  // The old pods leave as the rollout replaces them; then version 2 catches up everywhere
  // and a new pod switches the readers to it.
  for (const auto* n : {"old-1", "old-2"}) Terminate(fleet, n);
  REQUIRE(WaitFor([&] { return State(fleet, 2) == "active"; }, 40s));
  const auto reads_at_switch = reader.reads();
  CHECK(State(fleet, 1) == "retired");
  CHECK(RecordedSchema(fleet, 1) == VersionSchema(fleet, 1));
  CHECK(RelKind(fleet, stable, "ledger") == "v");
  CHECK(RelKind(fleet, VersionSchema(fleet, 1), "ledger") == "r");
  // The reader goes on reading the view while the writer appends.
  REQUIRE(WaitFor([&] { return reader.reads() > reads_at_switch + 20; }, 20s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger@2"); }, 30s));
  const auto final_reads = reader.reads();
  REQUIRE(WaitFor([&] { return reader.reads() > final_reads + 3; }, 10s));  // a read of the caught-up model
  reader.Stop();

  const auto problems = reader.problems();
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  INFO("reads: " << reader.reads() << " (" << reads_at_switch << " before the switch)");
  CHECK(static_cast<std::int64_t>(reader.rows()) == fleet.db().Scalar<std::int64_t>("SELECT count(DISTINCT aggregate_id) FROM events"));
  // The stable names show version 2's logic, exactly once, with its second table.
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(RelKind(fleet, stable, "ledger_types") == "v");
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT sum(events) FROM " + stable + ".ledger") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));
  // What version 1 had applied when it was fenced stays as it was.
  CHECK(V1Mismatches(fleet, VersionSchema(fleet, 1) + ".ledger") == 0);
}

TEST_CASE("a rolling deploy with kill -9 of a new pod mid-build keeps exactly once", "[cluster][versions]") {
  VersionSchemas schemas;
  WorkerFleet fleet(LedgerSettings());
  schemas.Of(fleet);
  const auto stable = fleet.db().schema();
  StartOldFleet(fleet, 10000);
  Appender writer(fleet.db().options(), 80);

  // One pod at a time: a new pod joins, an old one leaves.
  fleet.UseBinary(kNewCode);
  fleet.Start("new-1");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 3, "ledger"); }, 30s));
  Terminate(fleet, "old-1");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger"); }, 30s));
  fleet.Start("new-2");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 3, "ledger"); }, 30s));
  // new-2 builds version 2 on its partitions; it dies in the middle of that.
  const auto taken = Progress(fleet, "ledger@2", "new-2");
  REQUIRE(WaitFor([&] { return Progress(fleet, "ledger@2", "new-2") > taken; }, 20s));
  REQUIRE(State(fleet, 2) == "building");
  fleet.Worker("new-2").Signal(SIGKILL);
  REQUIRE(fleet.Worker("new-2").Wait(5s).has_value());
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger"); }, 20s));  // evicted, its partitions moved
  CHECK(State(fleet, 2) == "building");
  // The pod comes back (its replica set restarts it), then the last old pod leaves.
  fleet.Start("new-2");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 3, "ledger"); }, 30s));
  Terminate(fleet, "old-2");
  REQUIRE(WaitFor([&] { return State(fleet, 2) == "active"; }, 40s));
  CHECK(State(fleet, 1) == "retired");
  REQUIRE(WaitFor([&] { return writer.appended() > 200; }, 20s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger@2") && fleet.CaughtUp("ledger@2"); }, 30s));

  // Version 2, through the stable names: every event once, none lost, none doubled.
  CHECK(RelKind(fleet, stable, "ledger") == "v");
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);
  CHECK(V2Mismatches(fleet, VersionSchema(fleet, 2) + ".ledger") == 0);
  // Version 1's retired table moved intact: exactly what its checkpoints say it applied.
  CHECK(RelKind(fleet, VersionSchema(fleet, 1), "ledger") == "r");
  CHECK(V1Mismatches(fleet, VersionSchema(fleet, 1) + ".ledger") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM " + VersionSchema(fleet, 1) + ".ledger") >= 200);
}

TEST_CASE("a deploy rolled back before the switch leaves the serving version untouched and drop discards the "
          "half-built one",
          "[cluster][versions]") {
  VersionSchemas schemas;
  WorkerFleet fleet(LedgerSettings({{"VERSION_SWITCH", "manual"}}));
  schemas.Of(fleet);
  const auto stable = fleet.db().schema();
  StartOldFleet(fleet, 5000);
  Appender writer(fleet.db().options(), 60);

  fleet.UseBinary(kNewCode);
  for (const auto* n : {"new-1", "new-2"}) fleet.Start(n);
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 4, "ledger"); }, 30s));
  REQUIRE(WaitFor([&] { return Progress(fleet, "ledger@2") > 0; }, 20s));
  REQUIRE(RelKind(fleet, VersionSchema(fleet, 2), "ledger") == "r");
  CHECK(State(fleet, 2) == "building");  // the old pods' partitions hold it back

  // The rollout is rolled back: the new pods go, the old ones own everything again.
  for (const auto* n : {"new-1", "new-2"}) Terminate(fleet, n);
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger"); }, 30s));
  REQUIRE(WaitFor([&] { return writer.appended() > 200; }, 20s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger"); }, 30s));
  // The serving version was never touched: version 1's own table, exact.
  CHECK(State(fleet, 1) == "active");
  CHECK(RecordedSchema(fleet, 1) == "(in place)");
  CHECK(RelKind(fleet, stable, "ledger") == "r");
  CHECK(RelKind(fleet, stable, "ledger_types").empty());
  CHECK(Columns(fleet, stable, "ledger") == std::vector<std::string>{"aggregate_id", "events", "last_position"});
  CHECK(V1Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT sum(events) FROM " + stable + ".ledger") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));
  CHECK(State(fleet, 2) == "building");

  // The half-built version is discarded.
  const auto drop = fleet.Projd({"versions", "drop", "ledger", "2"});
  INFO(drop.out << drop.err);
  REQUIRE(drop.exit_code == 0);
  CHECK_THAT(drop.out, Catch::Contains("ledger@2 dropped"));
  CHECK(State(fleet, 2) == "dropped");
  CHECK_FALSE(SchemaExists(fleet, VersionSchema(fleet, 2)));
  const auto list = fleet.Projd({"versions", "list"});
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::Contains("dropped"));

  // New code deployed again later: the dropped number is not built again.
  const auto v2_progress = Progress(fleet, "ledger@2");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger"); }, 30s));  // the drop's generation
  fleet.Start("new-3");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 3, "ledger"); }, 30s));
  fleet.Seed(1000, 50, "b");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger"); }, 30s));
  CHECK(State(fleet, 2) == "dropped");
  CHECK_FALSE(SchemaExists(fleet, VersionSchema(fleet, 2)));
  CHECK(Progress(fleet, "ledger@2") == v2_progress);
  CHECK(State(fleet, 1) == "active");
  CHECK(RelKind(fleet, stable, "ledger") == "r");
  CHECK(V1Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(fleet.Worker("new-3").running());
}

TEST_CASE("manual promote, switch back with rollback, and drop of the retired version", "[cluster][versions]") {
  VersionSchemas schemas;
  WorkerFleet fleet(LedgerSettings({{"VERSION_SWITCH", "manual"}}));
  schemas.Of(fleet);
  const auto stable = fleet.db().schema();
  PromoteThenRollBack(fleet);
  // Version 1 is kept current again by the new pods (they have its code).
  fleet.Seed(500, 50, "b");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger") && fleet.CaughtUp("ledger"); }, 30s));
  CHECK(V1Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT sum(events) FROM " + stable + ".ledger") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));

  // promote again, now (--force): version 2 shows what it had, its workers catch it up.
  const auto again = fleet.Projd({"versions", "promote", "ledger", "2", "--force"});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("version 2 is active (was 1)"));
  CHECK(State(fleet, 2) == "active");
  CHECK(State(fleet, 1) == "retired");
  REQUIRE(WaitFor([&] { return SettledOn(fleet, 2, "ledger@2") && fleet.CaughtUp("ledger@2"); }, 30s));
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);

  // drop the retired version 1: its schema goes, the stable names are version 2's.
  const auto drop1 = fleet.Projd({"versions", "drop", "ledger", "1"});
  INFO(drop1.out << drop1.err);
  REQUIRE(drop1.exit_code == 0);
  CHECK(State(fleet, 1) == "dropped");
  CHECK_FALSE(SchemaExists(fleet, VersionSchema(fleet, 1)));
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);

  // drop of the active version 2 is refused and changes nothing.
  const auto generation = fleet.Generation();
  const auto drop2 = fleet.Projd({"versions", "drop", "ledger", "2"});
  INFO(drop2.out << drop2.err);
  CHECK(drop2.exit_code == 2);
  CHECK_THAT(drop2.err, Catch::Contains("ledger@2 is active"));
  CHECK(State(fleet, 2) == "active");
  CHECK(SchemaExists(fleet, VersionSchema(fleet, 2)));
  CHECK(fleet.Generation() == generation);
  fleet.Seed(300, 50, "c");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger@2"); }, 30s));
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);
}

TEST_CASE("a version switched away from by rollback is promoted again only once it has caught up, never backwards",
          "[cluster][versions]") {
  VersionSchemas schemas;
  WorkerFleet fleet(LedgerSettings({{"VERSION_SWITCH", "manual"}}));
  schemas.Of(fleet);
  const auto stable = fleet.db().schema();
  PromoteThenRollBack(fleet);
  // Version 1 serves and moves on; version 2, retired, stays where the rollback left it.
  fleet.Seed(2000, 100, "b");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger"); }, 30s));
  Appender writer(fleet.db().options(), 40);
  StableReader reader(fleet);
  REQUIRE(WaitFor([&] { return reader.reads() > 5; }, 10s));

  // The fix is deployed; the operator promotes version 2 again without --force: it must not
  // show readers its stale tables, so the promote waits until it has caught up.
  const auto again = fleet.Projd({"versions", "promote", "ledger", "2", "--timeout", "30s"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(State(fleet, 2) == "active");
  // While it waited, each attempt held version 1's checkpoints only briefly: no worker's
  // checkpoint writes timed out behind the promote's locks (no breaker opened).
  for (const auto* n : {"new-1", "new-2"}) {
    const auto breaker = LogLines(fleet, n, "persistence circuit breaker open");
    INFO(n << ": " << (breaker.empty() ? "" : breaker.front()));
    CHECK(breaker.empty());
  }
  const auto reads_at_switch = reader.reads();
  REQUIRE(WaitFor([&] { return reader.reads() > reads_at_switch + 5; }, 10s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger@2"); }, 30s));
  reader.Stop();
  const auto problems = reader.problems();
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  CHECK(V2Mismatches(fleet, stable + ".ledger") == 0);
  CHECK(TypeMismatches(fleet, stable + ".ledger_types") == 0);
}
