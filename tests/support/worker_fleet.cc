#include "tests/support/worker_fleet.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

#include "projections/examples/stream_stats_check.h"

namespace projd::testing {

WorkerFleet::WorkerFleet(std::map<std::string, std::string> settings, std::string url)
    : db_(url.empty() ? TestDatabaseUrl() : url, true) {
  env_ = {{"DATABASE_URL", db_.url()},
          {"DATABASE_SCHEMA", db_.schema()},
          {"REPLICA_SET", "fleet"},
          {"PARTITIONS", "16"},
          {"HEARTBEAT_INTERVAL", "200ms"},
          {"STALE_WORKER_TIMEOUT", "1500ms"},
          {"COORDINATION_TIMEOUT", "3s"},
          {"POLL_INTERVAL", "200ms"},
          {"GAP_GRACE", "200ms"},
          {"PERSISTENCE_INTERVAL", "100ms"},
          {"PERSISTENCE_TIMEOUT", "500ms"},
          {"FORCE_PERSISTENCE_TIMEOUT", "5s"},
          // A PostgreSQL outage opens the persistence breaker; with the default 60 s a worker
          // would sit out a minute after every restart the tests make (docs/operations.md).
          {"CIRCUIT_BREAKER_TIMEOUT", "2s"},
          {"SHUTDOWN_TIMEOUT", "5s"},
          {"BATCH_SIZE", "50"},
          {"PROJECTIONS", "stream_stats,noop"},
          {"LOG_LEVEL", "info"},
          {"HTTP_ADDR", "127.0.0.1:0"}};  // a free port each; HttpPort() reads it from the log
  for (const auto& [k, v] : settings) env_[k] = v;
  log_dir_ = (std::filesystem::temp_directory_path() / ("projd-fleet-" + db_.schema())).string();
  std::filesystem::create_directories(log_dir_);
}

WorkerFleet::~WorkerFleet() {
  for (auto& [name, w] : workers_) {
    if (w->running()) {
      w->Signal(SIGCONT);
      w->Signal(SIGKILL);
    }
  }
  workers_.clear();
  std::error_code ec;
  std::filesystem::remove_all(log_dir_, ec);
}

ChildProcess& WorkerFleet::Start(const std::string& name, const std::map<std::string, std::string>& extra,
                                 const std::vector<std::string>& wrapper) {
  auto env = env_;
  env["WORKER_NAME"] = name;
  for (const auto& [k, v] : extra) env[k] = v;
  const auto log = log_dir_ + "/" + name + "-" + std::to_string(workers_.count(name)) + ".log";
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {binary_, "run"});
  auto child = std::make_unique<ChildProcess>(argv, env, log);
  auto& ref = *child;
  workers_[name] = std::move(child);
  return ref;
}

int WorkerFleet::HttpPort(const std::string& name) {
  int port = 0;
  WaitFor(
      [&] {
        const auto log = Worker(name).Log();
        const auto line = log.find("http listening");
        if (line == std::string::npos) return false;
        const auto at = log.find("port=", line);
        if (at == std::string::npos) return false;
        port = std::atoi(log.c_str() + at + 5);
        return port > 0;
      },
      std::chrono::seconds(10));
  return port;
}

ProcessResult WorkerFleet::Projd(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, env_);
}

void WorkerFleet::Seed(int events, int aggregates, const std::string& prefix) {
  const auto r = Projd({"seed", "--events", std::to_string(events), "--aggregates", std::to_string(aggregates),
                        "--prefix", prefix});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

std::map<std::string, int> WorkerFleet::Owners() {
  std::map<std::string, int> out;
  for (const auto& r : db_.Exec("SELECT w.worker_name, count(*) FROM projd_assignments a"
                                " JOIN projd_workers w USING (worker_id)"
                                " JOIN projd_replica_sets s ON s.name = a.replica_set"
                                " WHERE a.replica_set = 'fleet' AND a.partition < s.partitions GROUP BY 1")) {
    out[r[0].as<std::string>()] = r[1].as<int>();
  }
  return out;
}

std::int64_t WorkerFleet::Generation() {
  const auto r = db_.Exec("SELECT generation FROM projd_replica_sets WHERE name = 'fleet'");
  return r.empty() ? 0 : r[0][0].as<std::int64_t>();
}

int WorkerFleet::Partitions() {
  const auto r = db_.Exec("SELECT partitions FROM projd_replica_sets WHERE name = 'fleet'");
  return r.empty() ? 0 : r[0][0].as<int>();
}

bool WorkerFleet::Settled(int members) {
  const auto r = db_.Exec(
      "SELECT count(*), coalesce(bool_and(w.acked_generation = s.generation), false)"
      " FROM projd_workers w JOIN projd_replica_sets s ON s.name = w.replica_set WHERE s.name = 'fleet'");
  if (r[0][0].as<int>() != members || !r[0][1].as<bool>()) return false;
  const auto owners = Owners();
  if (static_cast<int>(owners.size()) != std::min(members, Partitions())) return false;
  int total = 0, lo = 1 << 30, hi = 0;
  for (const auto& [n, c] : owners) {
    total += c;
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  if (total != Partitions() || hi - lo > 1) return false;
  // Every owner has taken its partitions (a new owner stamps the row with its id first).
  return db_.Scalar<int>(
             "SELECT count(*) FROM projd_assignments a JOIN projd_replica_sets s ON s.name = a.replica_set"
             " LEFT JOIN projd_checkpoints c ON c.replica_set = a.replica_set AND c.partition = a.partition"
             "  AND c.projection = 'stream_stats'"
             " WHERE a.replica_set = 'fleet' AND a.partition < s.partitions"
             "  AND c.writer IS DISTINCT FROM a.worker_id") == 0;
}

bool WorkerFleet::CaughtUp(const std::string& projection) {
  const auto r = db_.Exec(
      "SELECT count(*) FILTER (WHERE c.position >= (SELECT coalesce(max(global_position), 0) FROM events)),"
      " (SELECT partitions FROM projd_replica_sets WHERE name = 'fleet')"
      " FROM projd_checkpoints c JOIN projd_replica_sets s ON s.name = c.replica_set"
      " WHERE c.replica_set = 'fleet' AND c.projection = '" + projection + "' AND c.partition < s.partitions");
  return !r[0][1].is_null() && r[0][0].as<int>() == r[0][1].as<int>();
}

int WorkerFleet::StreamStatsMismatches() {
  return static_cast<int>(examples::StreamStatsMismatches(db_.options()));
}

}  // namespace projd::testing
