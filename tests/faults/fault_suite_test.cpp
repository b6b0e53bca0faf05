// The fault-injection suite: a private PostgreSQL, real `projd run` workers (stream_stats,
// type_counts, order_check, poison_skip), writers that pause inside transactions and roll
// some back, and a schedule of faults. After the schedule every projection must catch up
// and agree with `events`: nothing lost, nothing doubled, per-aggregate order kept, the
// poison event dead-lettered, and no worker exited unless the suite stopped it.
//
// PROJD_FAULTS_PROFILE=short (default, part of `make test`) runs each fault once;
// long (`make faults`) runs PROJD_FAULTS_ROUNDS rounds (default 5) in a shuffled order with
// more writers. PROJD_FAULTS_SEED replays a run (the seed is printed at the start).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "devtools/embedded_postgres.h"
#include "tests/faults/fault_writer.h"
#include "tests/faults/network_partition.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;
using Clock = std::chrono::steady_clock;

namespace {

struct Profile {
  std::string name = "short";
  int rounds = 1;
  int writers = 2;
  std::uint64_t seed = 0;
};

Profile ProfileFromEnv() {
  Profile p;
  if (const char* v = std::getenv("PROJD_FAULTS_PROFILE"); v && std::string(v) == "long") {
    p.name = "long";
    p.rounds = 5;
    p.writers = 4;
  }
  if (const char* v = std::getenv("PROJD_FAULTS_ROUNDS"); v && *v) p.rounds = std::max(1, std::atoi(v));
  if (const char* v = std::getenv("PROJD_FAULTS_SEED"); v && *v) {
    p.seed = std::strtoull(v, nullptr, 10);
  } else {
    p.seed = std::random_device{}();
  }
  return p;
}

long long MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The running suite: the server, the fleet, the live workers and the bookkeeping.
class Suite {
 public:
  Suite(projd::EmbeddedPostgres& server, WorkerFleet& fleet, std::uint64_t seed)
      : server_(server), fleet_(fleet), rng_(seed) {}

  void StartWorker(const std::string& name, const std::vector<std::string>& wrapper = {},
                   const std::map<std::string, std::string>& extra = {}) {
    fleet_.Start(name, extra, wrapper);
    alive_.insert(name);
  }
  std::string PickWorker() {
    std::vector<std::string> names(alive_.begin(), alive_.end());
    names.erase(std::remove(names.begin(), names.end(), partitioned_), names.end());
    return names[rng_() % names.size()];
  }
  // Waits until the live workers own everything; returns the time it took.
  long long Settle(const std::string& what) {
    const auto t = Clock::now();
    const int members = static_cast<int>(alive_.size());
    Await([&] { return fleet_.Settled(members); }, 60s, what + ": " + std::to_string(members) + " members settle");
    return MsSince(t);
  }
  // Waits for `condition`; on time-out prints the tail of every live worker's log and fails.
  template <typename Fn>
  void Await(Fn&& condition, std::chrono::milliseconds timeout, const std::string& what) {
    if (WaitFor(condition, timeout)) return;
    for (const auto& n : alive_) {
      const auto log = fleet_.Worker(n).Log();
      std::printf("---- %s (%s), last lines:\n%s\n", n.c_str(), fleet_.Worker(n).running() ? "running" : "exited",
                  log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
      if (std::getenv("PROJD_FAULTS_STACKS") && fleet_.Worker(n).running()) {
        const auto bt = projd::testing::RunProcess({"/usr/bin/gdb", "-p", std::to_string(fleet_.Worker(n).pid()),
                                                    "-batch", "-ex", "thread apply all bt 12"});
        std::printf("---- %s threads:\n%s\n", n.c_str(), bt.out.c_str());
      }
    }
    FAIL(what << ": not within " << timeout.count() << " ms");
  }
  void Report(const std::string& fault, const std::string& detail, long long ms) {
    ++faults_;
    std::printf("fault %2d %-16s %-48s settled in %6lld ms, %lld events so far\n", faults_, fault.c_str(),
                detail.c_str(), ms, static_cast<long long>(Events()));
    std::fflush(stdout);
  }
  std::int64_t Events() { return fleet_.db().Scalar<std::int64_t>("SELECT count(*) FROM events"); }

  // Faults -----------------------------------------------------------------------------
  void Kill9() {
    const auto name = PickWorker();
    fleet_.Worker(name).Signal(SIGKILL);
    REQUIRE(fleet_.Worker(name).Wait(10s).has_value());
    alive_.erase(name);
    const auto moved = Settle("kill -9");
    StartWorker(name);  // what the pod's restart policy does
    Report("kill-9", name + " killed, moved in " + std::to_string(moved) + " ms; restarted", Settle("restart"));
  }
  void StopCont() {
    const auto name = PickWorker();
    fleet_.Worker(name).Signal(SIGSTOP);
    alive_.erase(name);
    const auto evicted = Settle("SIGSTOP");
    fleet_.Worker(name).Signal(SIGCONT);
    alive_.insert(name);
    Report("sigstop", name + " paused, evicted after " + std::to_string(evicted) + " ms; SIGCONT", Settle("SIGCONT"));
    CHECK(fleet_.Worker(name).running());
  }
  void TermRestart() {
    const auto name = PickWorker();
    fleet_.Worker(name).Signal(SIGTERM);
    const auto code = fleet_.Worker(name).Wait(30s);
    INFO(name << " after SIGTERM: " << fleet_.Worker(name).Log());
    CHECK(code == std::optional<int>(0));
    alive_.erase(name);
    const auto moved = Settle("SIGTERM");
    StartWorker(name);
    Report("sigterm", name + " exited " + std::to_string(code.value_or(-1)) + ", moved in " + std::to_string(moved) +
           " ms; restarted", Settle("restart"));
  }
  void Join() {
    const auto name = "j" + std::to_string(++joined_);
    StartWorker(name);
    Report("join", name + " joined", Settle("join"));
  }
  void PostgresDown(bool crash) {
    std::map<std::string, std::size_t> before;
    for (const auto& n : alive_) before[n] = Count(fleet_.Worker(n).Log(), "failed; retrying");
    const auto t = Clock::now();
    if (crash) {
      server_.Kill();
    } else {
      server_.Stop(projd::EmbeddedPostgres::StopMode::kFast);
    }
    // Down until every worker noticed (a failed, retried round), then back.
    REQUIRE(WaitFor(
        [&] {
          for (const auto& n : alive_) {
            if (n != partitioned_ && Count(fleet_.Worker(n).Log(), "failed; retrying") <= before[n]) return false;
          }
          return true;
        },
        30s));
    const auto down = MsSince(t);
    server_.Start();
    Report(crash ? "postgres-kill-9" : "postgres-restart",
           std::string(crash ? "killed, crash recovery" : "fast shutdown") + ", down " + std::to_string(down) + " ms",
           Settle("postgres back"));
  }
  void LongTransaction() {
    // A writer transaction that took a position and stays open: events committed after it
    // must wait (the mark holds) and nothing may be skipped.
    auto conn = fleet_.db().Connect();
    pqxx::work tx(*conn);
    const auto position = tx.exec1(
        "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id,"
        " event_type, event_version, payload, metadata)"
        " SELECT 'faults', 'Long', 'long-' || (SELECT count(*) FROM events WHERE aggregate_type = 'Long'), 1,"
        " gen_random_uuid(), 'Created', 1, '\\x7b7d'::bytea, '{}'::jsonb RETURNING global_position")[0]
                              .as<std::int64_t>();
    const auto t = Clock::now();
    // Held: events after it commit, and no checkpoint passes it.
    const bool later = WaitFor(
        [&] {
          return fleet_.db().Scalar<std::int64_t>("SELECT coalesce(max(global_position), 0) FROM events") > position + 20;
        },
        20s);
    CHECK(later);
    CHECK(fleet_.db().Scalar<std::int64_t>(
              "SELECT coalesce(max(position), 0) FROM projd_checkpoints WHERE projection = 'stream_stats'") < position);
    tx.commit();
    Report("long-transaction", "held position " + std::to_string(position) + " for " + std::to_string(MsSince(t)) +
           " ms", Settle("long transaction"));
  }
  void Poison() {
    const auto r = fleet_.Projd({"append", "--bounded-context", "faults", "--aggregate-type", "Poisoned",
                                 "--aggregate-id", "poison-" + std::to_string(++poisoned_), "--event-type", "Poison",
                                 "--payload", "{}"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto t = Clock::now();
    Await(
        [&] {
          return fleet_.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'poison_skip'"
                                         " AND event_type = 'Poison'") >= poisoned_;
        },
        60s, "the poison event is dead-lettered");
    Report("poison-event", "dead-lettered by poison_skip after " + std::to_string(MsSince(t)) + " ms", 0);
  }
  void Split() {
    const auto r = fleet_.Projd({"partitions", "split", "--replica-set", "fleet"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    Report("split", "partitions now " + std::to_string(fleet_.Partitions()), Settle("split"));
  }
  void Partition(projd::faults::NetworkPartition& net, const std::string& url) {
    if (partitioned_.empty()) {
      partitioned_ = "netns";
      StartWorker(partitioned_, net.Wrapper(), {{"DATABASE_URL", url}});
      Settle("netns worker joins");
    }
    net.Cut();
    alive_.erase(partitioned_);
    const auto evicted = Settle("network partition");
    net.Heal();
    alive_.insert(partitioned_);
    Report("net-partition", "netns worker cut off, evicted after " + std::to_string(evicted) + " ms; healed",
           Settle("healed"));
    CHECK(fleet_.Worker(partitioned_).running());
  }

  const std::set<std::string>& alive() const { return alive_; }
  int faults() const { return faults_; }

 private:
  projd::EmbeddedPostgres& server_;
  WorkerFleet& fleet_;
  std::mt19937_64 rng_;
  std::set<std::string> alive_;
  std::string partitioned_;
  int joined_ = 0;
  int poisoned_ = 0;
  int faults_ = 0;
};

}  // namespace

TEST_CASE("fault suite: workers and PostgreSQL fail on a schedule under writers, nothing lost, doubled or reordered",
          "[faults]") {
  const Profile profile = ProfileFromEnv();
  std::printf("fault suite: profile %s, %d round(s), %d writers, seed %llu (PROJD_FAULTS_SEED=%llu replays it)\n",
              profile.name.c_str(), profile.rounds, profile.writers, static_cast<unsigned long long>(profile.seed),
              static_cast<unsigned long long>(profile.seed));
  const auto started = Clock::now();

  // A network namespace for the partition fault, made before the server so it can listen there.
  projd::faults::NetworkPartition net;
  std::string net_error;
  const bool net_ok = net.Create(&net_error);
  if (!net_ok) std::printf("skipping the network partition: namespaces not permitted here (%s)\n", net_error.c_str());

  projd::EmbeddedPostgres::Options options;
  options.settings["max_connections"] = "300";
  if (net_ok) options.settings["listen_addresses"] = std::string("127.0.0.1,") + net.kHostAddress;
  projd::EmbeddedPostgres server(options);
  server.Start();
  if (net_ok) {
    std::FILE* hba = std::fopen((server.data_dir() + "/pg_hba.conf").c_str(), "a");
    REQUIRE(hba != nullptr);
    std::fputs("host all all 10.213.7.0/30 trust\n", hba);
    std::fclose(hba);
    server.Stop();
    server.Start();
  }

  WorkerFleet fleet({{"PROJECTIONS", "stream_stats,type_counts,order_check,poison_skip"}}, server.Url());
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(2000, 200, "seed");
  Suite suite(server, fleet, profile.seed);
  for (const auto* n : {"w1", "w2", "w3"}) suite.StartWorker(n);
  suite.Settle("start");

  std::vector<std::unique_ptr<projd::faults::FaultWriter>> writers;
  for (int i = 0; i < profile.writers; ++i) {
    writers.push_back(std::make_unique<projd::faults::FaultWriter>(projd::faults::FaultWriterOptions{
        .url = server.Url(), .schema = fleet.db().schema(), .name = "writer" + std::to_string(i),
        .aggregates = 100, .max_pause_ms = 20, .rollback_ratio = 0.1, .seed = profile.seed + i}));
  }

  std::string partition_url = server.Url();
  partition_url.replace(partition_url.find("127.0.0.1"), 9, net.kHostAddress);
  std::vector<std::pair<std::string, std::function<void()>>> faults = {
      {"kill-9", [&] { suite.Kill9(); }},
      {"sigstop", [&] { suite.StopCont(); }},
      {"sigterm", [&] { suite.TermRestart(); }},
      {"join", [&] { suite.Join(); }},
      {"postgres-restart", [&] { suite.PostgresDown(false); }},
      {"postgres-kill-9", [&] { suite.PostgresDown(true); }},
      {"long-transaction", [&] { suite.LongTransaction(); }},
      {"poison-event", [&] { suite.Poison(); }},
      {"split", [&] { suite.Split(); }},
  };
  if (net_ok) faults.push_back({"net-partition", [&] { suite.Partition(net, partition_url); }});
  std::mt19937_64 order(profile.seed);
  for (int round = 0; round < profile.rounds; ++round) {
    auto schedule = faults;
    if (profile.rounds > 1) std::shuffle(schedule.begin(), schedule.end(), order);
    for (auto& [name, run] : schedule) {
      if (name == "split" && fleet.Partitions() >= 128) continue;  // keep the long run's partitions modest
      run();
    }
  }

  for (auto& w : writers) w->Stop();
  std::int64_t committed = 0, rolled_back = 0, errors = 0;
  for (auto& w : writers) {
    committed += w->committed();
    rolled_back += w->rolled_back();
    errors += w->errors();
  }
  const auto t = Clock::now();
  suite.Await(
      [&] {
        return fleet.CaughtUp("stream_stats") && fleet.CaughtUp("type_counts") && fleet.CaughtUp("order_check") &&
               fleet.CaughtUp("poison_skip");
      },
      120s, "every projection catches up");
  const auto catch_up = MsSince(t);
  auto& db = fleet.db();
  const auto events = db.Scalar<std::int64_t>("SELECT count(*) FROM events");
  std::printf("writers: %lld events committed, %lld rolled back, %lld failed transactions (server down)\n",
              static_cast<long long>(committed), static_cast<long long>(rolled_back), static_cast<long long>(errors));
  std::printf("fault suite: %d faults, %lld events, caught up %lld ms after the writers stopped, %lld s in all\n",
              suite.faults(), static_cast<long long>(events), catch_up, MsSince(started) / 1000);

  // Nothing lost, nothing doubled (count and version sum per aggregate).
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(db.Scalar<std::int64_t>("SELECT count(*) FROM stream_stats s JOIN (SELECT bounded_context, aggregate_type,"
                                " aggregate_id, max(aggregate_version) AS v FROM events GROUP BY 1, 2, 3) e"
                                " USING (bounded_context, aggregate_type, aggregate_id) WHERE s.last_version <> e.v") ==
        0);
  // Per-aggregate order: every version arrived as 1, 2, 3, ... exactly once.
  CHECK(db.Scalar<std::int64_t>("SELECT count(*) FROM order_violations") == 0);
  CHECK(db.Scalar<std::int64_t>("SELECT coalesce(sum(last_version), 0) FROM order_check") == events);
  // type_counts (async, idempotent effect) per event type.
  CHECK(db.Scalar<std::int64_t>("SELECT count(*) FROM (SELECT event_type, count(*) AS n FROM events GROUP BY 1) e"
                                " FULL JOIN (SELECT event_type, sum(event_count) AS n FROM type_counts GROUP BY 1) t"
                                " USING (event_type) WHERE e.n IS DISTINCT FROM t.n") == 0);
  // The throwing projection: every event either applied once or dead-lettered.
  CHECK(db.Scalar<std::int64_t>("SELECT count(*) FROM poison_skip_model") +
            db.Scalar<std::int64_t>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'poison_skip'") ==
        events);
  // No worker exited that the suite did not stop.
  for (const auto& name : suite.alive()) {
    INFO(name << ": " << fleet.Worker(name).Log());
    CHECK(fleet.Worker(name).running());
  }
  CHECK(committed > 0);
}
