// Reading events from a hot standby (EVENTS_READ_URL) with real workers: each case starts its
// own primary and a streaming standby of it (EmbeddedPostgres, pg_basebackup -R), not the
// server of DATABASE_URL, and a fleet on the primary whose runners read events from the
// standby. Adversarial writers, a paused replay, a standby further behind than
// STANDBY_MAX_LAG, a standby stopped, restarted and promoted: every event is applied exactly
// once, nothing is read past what the standby replayed, and /status, /readyz and the metrics
// say where the events came from (docs/reading.md, "Reading from hot standbys").
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "devtools/embedded_postgres.h"
#include "tests/support/appender.h"
#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::EmbeddedPostgres;
using projd::testing::Appender;
using projd::testing::HttpCall;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

using Settings = std::map<std::string, std::string>;

// One worker's view of the standby (the first and only one of EVENTS_READ_URL) and of its
// reads, from /status.
struct StandbyView {
  std::string name;
  std::string condition;
  std::uint64_t lag_bytes = 0;
  double lag_seconds = 0;
  std::int64_t batches = 0;
  std::int64_t read_errors = 0;
  std::int64_t primary_batches = 0;
  std::int64_t waits = 0;
};

// A private primary and a hot standby of it, a fleet on the primary whose runners read events
// from the standby. Members are destroyed in reverse: the workers first, then the standby
// (which drops its slot on the primary), then the primary.
class StandbyCluster {
 public:
  // `settings`: the workers'; `standby_extra`: server settings of the standby only, on top of
  // the primary's.
  explicit StandbyCluster(Settings settings, const Settings& standby_extra = {})
      : primary_(ServerOptions(0)) {
    primary_.Start();
    auto standby_options = ServerOptions(primary_.port());
    for (const auto& [k, v] : standby_extra) standby_options.settings[k] = v;
    standby_.emplace(standby_options);
    standby_->Start();
    settings["EVENTS_READ_URL"] = standby_->Url();
    fleet_.emplace(std::move(settings), primary_.Url());
  }

  EmbeddedPostgres& primary() { return primary_; }
  EmbeddedPostgres& standby() { return *standby_; }
  WorkerFleet& fleet() { return *fleet_; }
  const PgTestSchema& db() { return fleet_->db(); }
  std::string standby_name() const { return "127.0.0.1:" + std::to_string(standby_->port()); }

  // Starts w1..wn, waits until they share the partitions and serve HTTP.
  void StartWorkers(int n) {
    for (int i = 1; i <= n; ++i) fleet_->Start("w" + std::to_string(i));
    for (int i = 1; i <= n; ++i) Serving("w" + std::to_string(i));
    REQUIRE(WaitFor([&] { return fleet_->Settled(n); }, 20s));
  }
  // Starts one more worker (it takes its share of the partitions meanwhile).
  void StartWorker(const std::string& name) {
    fleet_->Start(name);
    Serving(name);
  }
  const std::map<std::string, int>& ports() const { return ports_; }

  // Every worker's view; nullopt when one of them does not answer.
  std::optional<std::map<std::string, StandbyView>> Views() const {
    std::map<std::string, StandbyView> out;
    for (const auto& [name, port] : ports_) {
      const auto r = HttpCall(port, "GET", "/status", 5s);
      if (r.status != 200) return std::nullopt;
      const auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_discarded() || !j.contains("standby_reads") || !j["standby_reads"].is_object()) return std::nullopt;
      const auto& reads = j["standby_reads"];
      if (reads["standbys"].size() != 1) return std::nullopt;
      const auto& s = reads["standbys"][0];
      StandbyView v;
      v.name = s["standby"].get<std::string>();
      v.condition = s["condition"].get<std::string>();
      v.lag_bytes = s["lag_bytes"].get<std::uint64_t>();
      v.lag_seconds = s["lag_seconds"].get<double>();
      v.batches = s["batches"].get<std::int64_t>();
      v.read_errors = s["read_errors"].get<std::int64_t>();
      v.primary_batches = reads["primary_batches"].get<std::int64_t>();
      v.waits = reads["waits"].get<std::int64_t>();
      out[name] = v;
    }
    return out;
  }

  // True when every worker answers and `check` holds for each view.
  bool Every(const std::function<bool(const StandbyView&)>& check) const {
    const auto views = Views();
    if (!views) return false;
    for (const auto& [name, v] : *views) {
      if (!check(v)) return false;
    }
    return true;
  }

  // The sum of one figure over the workers (-1 when one does not answer).
  std::int64_t Total(std::int64_t StandbyView::*figure) const {
    const auto views = Views();
    if (!views) return -1;
    std::int64_t sum = 0;
    for (const auto& [name, v] : *views) sum += v.*figure;
    return sum;
  }

  // Each worker's standby_reads and readiness, for failure messages.
  std::string Describe() const {
    std::ostringstream out;
    for (const auto& [name, port] : ports_) {
      const auto status = HttpCall(port, "GET", "/status", 5s);
      const auto j = nlohmann::json::parse(status.body, nullptr, false);
      out << name << ": standby_reads "
          << (j.is_discarded() || !j.contains("standby_reads") ? std::string("?") : j["standby_reads"].dump())
          << "; readyz " << HttpCall(port, "GET", "/readyz", 5s).body << "\n";
    }
    return out.str();
  }

  // The highest event position a snapshot on the standby sees.
  std::int64_t MaxOnStandby() {
    pqxx::connection c(standby_->Url());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT coalesce(max(global_position), 0) FROM " + tx.quote_name(fleet_->db().schema()) +
                    ".events")[0]
        .as<std::int64_t>();
  }
  std::int64_t MaxOnPrimary() { return db().Scalar<std::int64_t>("SELECT coalesce(max(global_position), 0) FROM events"); }
  // The highest and lowest stream_stats checkpoint of the fleet (on the primary).
  std::int64_t HighestCheckpoint() {
    return db().Scalar<std::int64_t>("SELECT coalesce(max(position), 0) FROM projd_checkpoints"
                                     " WHERE replica_set = 'fleet' AND projection = 'stream_stats'");
  }
  std::int64_t LowestCheckpoint() {
    return db().Scalar<std::int64_t>("SELECT coalesce(min(c.position), 0) FROM projd_checkpoints c"
                                     " JOIN projd_replica_sets s ON s.name = c.replica_set"
                                     " WHERE c.replica_set = 'fleet' AND c.projection = 'stream_stats'"
                                     " AND c.partition < s.partitions");
  }

  // Runs `sql` on the standby (its superuser) and returns the first column of the first row.
  std::string OnStandby(const std::string& sql) const {
    pqxx::connection c(standby_->Url());
    pqxx::nontransaction tx(c);
    const auto r = tx.exec1(sql);
    return r[0].is_null() ? "" : r[0].as<std::string>();
  }

  // Waits until every stream_stats checkpoint reached the latest event, then checks that
  // every event was applied exactly once and every worker is still running.
  void RequireCaughtUpExactlyOnce() {
    const bool caught_up = WaitFor([&] { return fleet_->CaughtUp("stream_stats"); }, 30s);
    INFO(Describe());
    REQUIRE(caught_up);
    CHECK(fleet_->StreamStatsMismatches() == 0);
    for (const auto& [name, port] : ports_) {
      const auto log = fleet_->Worker(name).Log();
      INFO(name << ":\n" << log);
      CHECK(fleet_->Worker(name).running());
      CHECK(log.find("failed; restarting it") == std::string::npos);  // no thread of the worker failed
    }
  }

 private:
  // The standby refuses lower max_connections (and similar) than its primary's: the same settings.
  static EmbeddedPostgres::Options ServerOptions(int standby_of_port) {
    EmbeddedPostgres::Options o;
    o.settings["max_connections"] = "200";
    o.standby_of_port = standby_of_port;
    return o;
  }

  EmbeddedPostgres primary_;
  std::optional<EmbeddedPostgres> standby_;
  // Waits until worker `name` serves HTTP and notes its port.
  void Serving(const std::string& name) {
    const int port = fleet_->HttpPort(name);
    INFO(fleet_->Worker(name).Log());
    REQUIRE(port > 0);
    ports_[name] = port;
  }

  std::optional<WorkerFleet> fleet_;
  std::map<std::string, int> ports_;
};

// The line of metric `name` whose labels include every one of `labels` (name="value"), or "".
std::string MetricLine(const std::string& body, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return line;
  }
  return "";
}

constexpr int kAggregates = 25;

struct WriterTally {
  std::atomic<int> committed_events{0};
  std::atomic<int> transactions{0};
  std::atomic<int> rollbacks{0};
  std::atomic<int> held{0};
  std::atomic<int> async_commits{0};
  std::atomic<int> conflict_retries{0};
  std::atomic<int> multi_row{0};
  std::atomic<int> unexpected{0};  // a retry that inserted, or a transaction that failed
  std::mutex mu;
  std::string last_error;
};

// One adversarial writer transaction: lock the aggregate's head and append 1-3 events, with
// pauses inside; 10% roll back, some stay open for a second (holding a low position), some
// commit asynchronously (SET LOCAL synchronous_commit = off: visible before the commit record
// is flushed), some first re-insert the aggregate's current version with ON CONFLICT DO
// NOTHING as a retry would (burning a position that never appears), some append in one
// multi-row INSERT.
void AdversarialTransaction(pqxx::connection& conn, std::mt19937& rng, WriterTally& tally) {
  const std::string id = "adv-" + std::to_string(rng() % kAggregates);
  pqxx::work tx(conn);
  const bool async = rng() % 4 == 0;
  if (async) tx.exec0("SET LOCAL synchronous_commit = off");
  tx.exec_params0(
      "INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version)"
      " VALUES ('c', 't', $1, 0) ON CONFLICT DO NOTHING",
      id);
  auto version = tx.exec_params1(
                       "SELECT aggregate_version FROM aggregate_heads WHERE bounded_context = 'c'"
                       " AND aggregate_type = 't' AND aggregate_id = $1 FOR UPDATE",
                       id)[0]
                     .as<std::int64_t>();
  bool retried = false;
  if (version > 0 && rng() % 5 == 0) {
    // A retry of an append that had committed: the version exists, nothing is inserted, the
    // position taken by the column default is burned.
    const auto r = tx.exec_params(
        "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
        " VALUES ('c', 't', $1, $2, 'E') ON CONFLICT DO NOTHING",
        id, version);
    if (r.affected_rows() != 0) ++tally.unexpected;
    retried = true;
  }
  const int n = 1 + static_cast<int>(rng() % 3);
  const bool multi = n > 1 && rng() % 3 == 0;
  if (multi) {
    std::string values;
    for (int i = 0; i < n; ++i) {
      values += std::string(i ? ", " : "") + "('c', 't', " + tx.quote(id) + ", " + std::to_string(++version) + ", 'E')";
    }
    tx.exec0("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
             " VALUES " + values);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 8));
  } else {
    for (int i = 0; i < n; ++i) {
      tx.exec_params0("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version,"
                      " event_type) VALUES ('c', 't', $1, $2, 'E')",
                      id, ++version);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 8));
    }
  }
  tx.exec_params0("UPDATE aggregate_heads SET aggregate_version = $2 WHERE bounded_context = 'c'"
                  " AND aggregate_type = 't' AND aggregate_id = $1",
                  id, version);
  const bool hold = rng() % 40 == 0;
  if (hold) std::this_thread::sleep_for(1s);  // a long transaction holding a low position
  ++tally.transactions;
  if (rng() % 10 == 0) {
    ++tally.rollbacks;
    tx.abort();
    return;
  }
  tx.commit();
  tally.committed_events += n;
  if (hold) ++tally.held;
  if (async) ++tally.async_commits;
  if (retried) ++tally.conflict_retries;
  if (multi) ++tally.multi_row;
}

// One writer on its own connection to the primary (the fleet's schema).
void AdversarialWriter(const PgTestSchema& db, int seed, int transactions, WriterTally& tally) {
  std::mt19937 rng(seed);
  auto conn = db.Connect();
  for (int t = 0; t < transactions; ++t) {
    try {
      AdversarialTransaction(*conn, rng, tally);
    } catch (const std::exception& e) {  // not expected: counted and reported by the test
      ++tally.unexpected;
      std::lock_guard lock(tally.mu);
      tally.last_error = e.what();
      if (!conn->is_open()) conn = db.Connect();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));  // writers interleave
  }
}

}  // namespace

TEST_CASE("adversarial concurrent writers, every worker reading from the standby: exactly once",
          "[cluster][standby]") {
  // The standby applies each commit a second after the primary made it
  // (recovery_min_apply_delay), and its replay stutters besides (paused 0.25-0.6 s, every
  // fourth time 1.5-2.5 s, while the writers run): the marks the runners are given are ahead
  // of what the standby shows, so a read up to the mark rather than up to the highest mark
  // the standby replayed would skip events here.
  StandbyCluster cluster(Settings{{"STANDBY_FALLBACK", "wait"}}, Settings{{"recovery_min_apply_delay", "1s"}});
  cluster.StartWorkers(1);

  WriterTally tally;
  std::atomic<bool> writing{true};
  std::atomic<int> replay_pauses{0};
  std::string stutter_error;
  std::vector<std::thread> writers;
  std::thread stutter;
  // Joined however the test ends (a failed REQUIRE too).
  const std::unique_ptr<void, std::function<void(void*)>> join_threads(&writing, [&](void*) {
    writing = false;
    for (auto& t : writers) {
      if (t.joinable()) t.join();
    }
    if (stutter.joinable()) stutter.join();
  });
  stutter = std::thread([&] {
    std::mt19937 rng(99);
    try {
      pqxx::connection c(cluster.standby().Url());
      while (writing) {
        pqxx::nontransaction(c).exec("SELECT pg_wal_replay_pause()");
        // Every fourth pause is long: a backlog of seconds that takes a while to replay.
        const auto pause = ++replay_pauses % 4 == 1 ? 1500 + rng() % 1000 : 250 + rng() % 350;
        std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        pqxx::nontransaction(c).exec("SELECT pg_wal_replay_resume()");
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
      }
    } catch (const std::exception& e) {
      stutter_error = e.what();
    }
  });
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] { AdversarialWriter(cluster.db(), 7000 + w, 90, tally); });
  }
  // And a steady stream of single-event appends: the mark moves every few milliseconds.
  std::optional<Appender> steady(std::in_place, cluster.db().options());
  // A second worker joins mid-run: the partitions it takes over are read on the standby from
  // their checkpoints, far behind the mark.
  REQUIRE(WaitFor([&] { return tally.committed_events > 200; }, 20s));
  cluster.StartWorker("w2");
  for (auto& t : writers) t.join();
  steady->Stop();
  writing = false;
  stutter.join();
  CHECK(WaitFor([&] { return cluster.fleet().Settled(2); }, 20s));
  INFO("replay pauses " << replay_pauses << " " << stutter_error);
  REQUIRE(stutter_error.empty());
  CHECK(replay_pauses > 0);
  CHECK(cluster.OnStandby("SELECT pg_get_wal_replay_pause_state()") == "not paused");
  INFO("transactions " << tally.transactions << ", committed events " << tally.committed_events << ", rollbacks "
                       << tally.rollbacks << ", held " << tally.held << ", asynchronous commits "
                       << tally.async_commits << ", conflicting retries " << tally.conflict_retries
                       << ", multi-row inserts " << tally.multi_row << ", unexpected " << tally.unexpected
                       << " " << tally.last_error);
  CHECK(tally.unexpected == 0);
  REQUIRE(cluster.db().Scalar<int>("SELECT count(*) FROM events") == tally.committed_events + steady->appended());
  CHECK(tally.rollbacks > 0);
  CHECK(tally.held > 0);
  CHECK(tally.async_commits > 0);
  CHECK(tally.conflict_retries > 0);
  CHECK(tally.multi_row > 0);

  cluster.RequireCaughtUpExactlyOnce();
  // Every batch of every runner came from the standby: none from the primary.
  const auto views = cluster.Views();
  INFO(cluster.Describe());
  REQUIRE(views);
  for (const auto& [name, v] : *views) {
    INFO(name);
    CHECK(v.name == cluster.standby_name());
    CHECK(v.condition == "usable");
    CHECK(v.primary_batches == 0);
    CHECK(v.batches > 0);
  }
  // The runners met the standby paused behind the mark and waited for it (a read that found
  // nothing replayed for 200 ms).
  CHECK(cluster.Total(&StandbyView::waits) > 0);
}

TEST_CASE("replay paused on the standby: readers wait, nothing skipped, lag shown, resume after pg_wal_replay_resume()",
          "[cluster][standby]") {
  StandbyCluster cluster(Settings{{"STANDBY_MAX_LAG", "1h"}});
  Appender load(cluster.db().options());
  cluster.StartWorkers(2);
  // The standby serves the live tail.
  REQUIRE(WaitFor([&] { return cluster.Every([](const StandbyView& v) { return v.condition == "usable" && v.batches > 0; }); },
                  20s));
  const auto primary_before = cluster.Total(&StandbyView::primary_batches);

  cluster.OnStandby("SELECT pg_wal_replay_pause()");
  REQUIRE(WaitFor([&] { return cluster.OnStandby("SELECT pg_get_wal_replay_pause_state()") == "paused"; }, 10s));
  const auto on_standby = cluster.MaxOnStandby();  // frozen while paused
  const auto appended_at_pause = load.appended();

  // The lag shows (bytes and seconds) and the standby stays usable (STANDBY_MAX_LAG=1h).
  {
    const bool lag_shown = WaitFor(
        [&] {
          return cluster.Every([](const StandbyView& v) {
            return v.condition == "usable" && v.lag_bytes > 0 && v.lag_seconds > 0.5;
          });
        },
        15s);
    INFO(cluster.Describe());
    REQUIRE(lag_shown);
  }
  const auto metrics = HttpCall(cluster.ports().begin()->second, "GET", "/metrics").body;
  CHECK_FALSE(MetricLine(metrics, "projd_standby_lag_bytes", {"standby=\"" + cluster.standby_name() + "\""}).empty());
  CHECK(MetricLine(metrics, "projd_standby_condition",
                   {"standby=\"" + cluster.standby_name() + "\"", "condition=\"usable\""})
            .ends_with(" 1"));

  // The readers wait: they keep asking, nothing past what the standby replayed is read (no
  // checkpoint passes it), nothing is read from the primary.
  const auto waits_at_lag = cluster.Total(&StandbyView::waits);
  REQUIRE(WaitFor([&] { return load.appended() > appended_at_pause + 100; }, 10s));
  REQUIRE(WaitFor([&] { return cluster.Total(&StandbyView::waits) > waits_at_lag + 10; }, 10s));
  CHECK(cluster.MaxOnStandby() == on_standby);
  CHECK(cluster.MaxOnPrimary() > on_standby);
  {
    INFO("standby sees up to " << on_standby << ", primary at " << cluster.MaxOnPrimary());
    CHECK(cluster.HighestCheckpoint() <= on_standby);
  }
  CHECK(cluster.Total(&StandbyView::primary_batches) == primary_before);
  CHECK(cluster.OnStandby("SELECT pg_get_wal_replay_pause_state()") == "paused");

  // Resumed: the standby catches up and the readers with it.
  const auto batches_at_resume = cluster.Total(&StandbyView::batches);
  cluster.OnStandby("SELECT pg_wal_replay_resume()");
  {
    const bool resumed = WaitFor(
        [&] {
          return cluster.LowestCheckpoint() > on_standby &&
                 cluster.Total(&StandbyView::batches) > batches_at_resume;
        },
        20s);
    INFO(cluster.Describe());
    REQUIRE(resumed);
  }
  load.Stop();
  cluster.RequireCaughtUpExactlyOnce();
  CHECK(cluster.Total(&StandbyView::primary_batches) == primary_before);
  INFO(cluster.Describe());
  CHECK(primary_before == 0);
}

TEST_CASE("a standby further behind than STANDBY_MAX_LAG is skipped for the primary and used again once it caught up",
          "[cluster][standby]") {
  StandbyCluster cluster(Settings{{"STANDBY_MAX_LAG", "1s"}});
  Appender load(cluster.db().options());
  cluster.StartWorkers(2);
  REQUIRE(WaitFor([&] { return cluster.Every([](const StandbyView& v) { return v.condition == "usable" && v.batches > 0; }); },
                  20s));

  cluster.OnStandby("SELECT pg_wal_replay_pause()");
  REQUIRE(WaitFor([&] { return cluster.OnStandby("SELECT pg_get_wal_replay_pause_state()") == "paused"; }, 10s));
  const auto on_standby = cluster.MaxOnStandby();
  {
    const bool lagging = WaitFor(
        [&] { return cluster.Every([](const StandbyView& v) { return v.condition == "lagging"; }); }, 15s);
    INFO(cluster.Describe());
    REQUIRE(lagging);
  }
  // The reads go to the primary and the projection keeps up with it, past the standby.
  const auto primary_at_lagging = cluster.Total(&StandbyView::primary_batches);
  const auto target = cluster.MaxOnPrimary();
  REQUIRE(target > on_standby);
  {
    const bool kept_up = WaitFor(
        [&] {
          return cluster.LowestCheckpoint() >= target &&
                 cluster.Total(&StandbyView::primary_batches) > primary_at_lagging;
        },
        20s);
    INFO(cluster.Describe() << "target " << target << ", lowest checkpoint " << cluster.LowestCheckpoint());
    REQUIRE(kept_up);
  }
  CHECK(cluster.MaxOnStandby() == on_standby);
  // /readyz: ready, the standby listed as degraded.
  for (const auto& [name, port] : cluster.ports()) {
    const auto ready = HttpCall(port, "GET", "/readyz");
    INFO(name << ": " << ready.body);
    CHECK(ready.status == 200);
    CHECK_THAT(ready.body, Catch::Contains("standby " + cluster.standby_name() + " not used for reading events: lagging"));
  }

  // Resumed: the standby catches up, is usable again and serves the reads.
  const auto standby_at_resume = cluster.Total(&StandbyView::batches);
  cluster.OnStandby("SELECT pg_wal_replay_resume()");
  {
    const bool back = WaitFor(
        [&] {
          return cluster.Every([](const StandbyView& v) { return v.condition == "usable"; }) &&
                 cluster.Total(&StandbyView::batches) > standby_at_resume + 10;
        },
        20s);
    INFO(cluster.Describe());
    REQUIRE(back);
  }
  load.Stop();
  cluster.RequireCaughtUpExactlyOnce();
}

TEST_CASE("a standby stopped mid-run: reads fall back to the primary and return when it is back",
          "[cluster][standby]") {
  StandbyCluster cluster(Settings{});
  Appender load(cluster.db().options());
  cluster.StartWorkers(2);
  REQUIRE(WaitFor([&] { return cluster.Every([](const StandbyView& v) { return v.condition == "usable" && v.batches > 0; }); },
                  20s));

  // Stopped: down, ready but degraded, the reads go to the primary.
  const auto primary_at_stop = cluster.Total(&StandbyView::primary_batches);
  cluster.standby().Stop();
  {
    const bool down = WaitFor(
        [&] {
          if (!cluster.Every([](const StandbyView& v) { return v.condition == "down"; })) return false;
          for (const auto& [name, port] : cluster.ports()) {
            const auto ready = HttpCall(port, "GET", "/readyz", 5s);
            if (ready.status != 200) return false;
            const auto j = nlohmann::json::parse(ready.body, nullptr, false);
            if (j.is_discarded() || !j.contains("degraded") || j["degraded"].empty()) return false;
          }
          return cluster.Total(&StandbyView::primary_batches) > primary_at_stop + 10;
        },
        20s);
    INFO(cluster.Describe());
    REQUIRE(down);
  }
  for (const auto& [name, port] : cluster.ports()) {
    const auto ready = HttpCall(port, "GET", "/readyz");
    INFO(name << ": " << ready.body);
    CHECK_THAT(ready.body, Catch::Contains("standby " + cluster.standby_name() + " not used for reading events: down"));
    const auto metrics = HttpCall(port, "GET", "/metrics").body;
    CHECK(MetricLine(metrics, "projd_standby_condition",
                     {"standby=\"" + cluster.standby_name() + "\"", "condition=\"down\""})
              .ends_with(" 1"));
  }
  // The projection keeps up with the primary meanwhile.
  const auto target = cluster.MaxOnPrimary();
  REQUIRE(WaitFor([&] { return cluster.LowestCheckpoint() >= target; }, 20s));

  // Back: usable again and serving.
  cluster.standby().Start();
  const auto standby_at_start = cluster.Total(&StandbyView::batches);
  {
    const bool back = WaitFor(
        [&] {
          return cluster.Every([](const StandbyView& v) { return v.condition == "usable"; }) &&
                 cluster.Total(&StandbyView::batches) > standby_at_start + 10;
        },
        20s);
    INFO(cluster.Describe());
    REQUIRE(back);
  }
  for (const auto& [name, port] : cluster.ports()) {
    const auto ready = HttpCall(port, "GET", "/readyz");
    INFO(name << ": " << ready.body);
    CHECK(ready.status == 200);
    const auto j = nlohmann::json::parse(ready.body, nullptr, false);
    CHECK((!j.is_discarded() && j.contains("degraded") && j["degraded"].empty()));
  }

  // Promoted: no longer a standby of the primary, never read from again.
  cluster.standby().Promote();
  {
    const bool promoted =
        WaitFor([&] { return cluster.Every([](const StandbyView& v) { return v.condition == "promoted"; }); }, 15s);
    INFO(cluster.Describe());
    REQUIRE(promoted);
  }
  // A read that passed the board just before the watch saw the promotion may still end on
  // it (capped at marks it replayed as a standby): counted from the next primary reads on.
  const auto primary_at_promote = cluster.Total(&StandbyView::primary_batches);
  REQUIRE(WaitFor([&] { return cluster.Total(&StandbyView::primary_batches) > primary_at_promote + 10; }, 20s));
  const auto standby_after_promote = cluster.Total(&StandbyView::batches);
  const auto primary_after_promote = cluster.Total(&StandbyView::primary_batches);
  const auto target_after = cluster.MaxOnPrimary();
  REQUIRE(WaitFor(
      [&] {
        return cluster.LowestCheckpoint() >= target_after &&
               cluster.Total(&StandbyView::primary_batches) > primary_after_promote + 10;
      },
      20s));
  CHECK(cluster.Total(&StandbyView::batches) == standby_after_promote);
  load.Stop();
  cluster.RequireCaughtUpExactlyOnce();
  // Each change was logged: down, back, promoted.
  for (const auto& [name, port] : cluster.ports()) {
    const auto log = cluster.fleet().Worker(name).Log();
    INFO(name << ":\n" << log);
    CHECK(log.find("standby not used for reading events") != std::string::npos);
    CHECK(log.find("condition=down") != std::string::npos);
    CHECK(log.find("standby condition changed") != std::string::npos);
    CHECK(log.find("condition=promoted") != std::string::npos);
  }
}
