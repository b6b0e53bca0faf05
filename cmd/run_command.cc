// `projd run`: a worker of the replica set. Wires the Postgres implementations and the
// linked projections into the start-up (orchestrator/runtime/worker_startup.h: migrations,
// Setup hooks, the database waited for) and the projd::Worker it builds, then waits for
// SIGTERM/SIGINT and stops gracefully (drain, deregister, next generation) within
// SHUTDOWN_TIMEOUT, whatever the database does (StopSignals enforces the deadline).
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/stop_signals.h"
#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/http/http_server.h"
#include "orchestrator/http/worker_endpoints.h"
#include "orchestrator/pg/event_notifier.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "projections/version_setup.h"
#include "orchestrator/control/pg/pg_control_store.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/persistence/pg/pg_dead_letter_store.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "orchestrator/reading/pg/pg_standby_probe.h"
#include "orchestrator/reading/standby_router.h"
#include "orchestrator/config/database_url.h"
#include "orchestrator/common/version.h"
#include "orchestrator/runtime/worker.h"
#include "orchestrator/runtime/worker_startup.h"
#include "orchestrator/waits/pg/pg_progress_store.h"
#include "orchestrator/waits/wait_service.h"
#include "orchestrator/coordination/worker_id.h"
#include "projections/projection_sink.h"
#include <projd/registry.h>

namespace projd::cli {
namespace {

// Every worker session ends a transaction left idle longer than STALE_WORKER_TIMEOUT: a
// worker paused that long (SIGSTOP, a frozen VM) is evicted anyway, and its open
// transaction must not keep holding checkpoint row locks that the new owner needs, nor
// the snapshot xmin that gates every reader's high-water mark.
// Every connection notices a dead peer within about half of STALE_WORKER_TIMEOUT
// (ConnectionTimeouts), and every statement of a running worker ends within
// STALE_WORKER_TIMEOUT: one that takes longer outlives the worker's membership anyway.
// Checkpoint batches and units cut their own statements sooner (PERSISTENCE_TIMEOUT), and
// PERSISTENCE_TIMEOUT + PERSISTENCE_INTERVAL <= STALE_WORKER_TIMEOUT / 2 keeps a
// projection's statements in a unit from being cut by this one first. The set-up
// connection (migrations check, projection Setup hooks: DDL) has no statement timeout.
enum class Statements { kBounded, kUnbounded };

pg::ConnectionOptions Db(const Config& c, const std::string& role, Statements statements = Statements::kBounded) {
  pg::ConnectionOptions o{c.database_url, c.database_schema, "projd-" + role};
  o.settings.push_back({"idle_in_transaction_session_timeout", std::to_string(c.stale_worker_timeout.count())});
  o.timeouts = ConnectionTimeouts::ForStaleWorkerTimeout(c.stale_worker_timeout);
  if (statements == Statements::kBounded) o.timeouts.statement = c.stale_worker_timeout;
  return o;
}

// EVENTS_READ_URL: each runner's reader becomes a router over a reader per standby and the
// primary's; the follower records WAL positions with its marks and a watch probes the standbys.
void AddStandbyReads(WorkerParts& parts, const Config& c, const pg::ConnectionOptions& reader_options) {
  std::vector<std::string> names;
  for (const auto& url : c.events_read_urls) {
    auto probe_options = Db(c, "standby-watch");
    probe_options.url = url;
    probe_options.client_deadline = c.standby_max_lag;  // a frozen standby does not hold the watch
    parts.standby_probes.push_back(std::make_unique<pg::PgStandbyProbe>(probe_options));
    names.push_back(UrlHostPort(url));  // never its credentials
  }
  parts.wal_marks = std::make_shared<WalMarks>();
  parts.standby_board = std::make_shared<StandbyBoard>(names);
  auto next = std::make_shared<std::size_t>(0);  // runners start at different standbys
  parts.make_reader = [reader_options, urls = c.events_read_urls, fallback = c.standby_fallback_primary,
                       max_lag = c.standby_max_lag,
                       marks = parts.wal_marks, board = parts.standby_board, next] {
    static const SystemClock clock;
    std::vector<std::unique_ptr<StandbySession>> standbys;
    for (const auto& url : urls) {
      auto options = reader_options;
      options.url = url;
      options.application_name = "projd-standby-reader";
      options.client_deadline = max_lag;  // a frozen standby: the batch goes elsewhere
      standbys.push_back(std::make_unique<pg::PgEventReader>(options));
    }
    StandbyRouterOptions ro;
    ro.fallback_to_primary = fallback;
    ro.first = (*next)++ % urls.size();
    return std::make_unique<StandbyRouter>(
        std::make_unique<pg::PgEventReader>(reader_options), std::move(standbys), *marks, *board, clock,
        [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }, ro);
  };
}

// Everything the worker needs besides its projections. Connects once (PgPositionSource checks
// the events sequence): a TransientError here is retried by the start-up.
WorkerParts BuildParts(const Config& c, const Logger& logger) {
  static const SystemClock clock;
  WorkerParts parts;
  parts.coordination = std::make_unique<pg::PgCoordinationStore>(Db(c, "coordinator"));
  parts.make_coordination = [options = Db(c, "coordinator")] {
    return std::make_unique<pg::PgCoordinationStore>(options);
  };
  parts.stamp_store = std::make_unique<pg::PgCheckpointStore>(Db(c, "coordinator"));
  parts.checkpoint_store = std::make_unique<pg::PgCheckpointStore>(Db(c, "persistence"), c.persistence_timeout);
  const auto unit_options = Db(c, "units");
  parts.make_unit_store = [unit_options, timeout = c.persistence_timeout](const std::string& read_model_schema) {
    auto options = unit_options;
    options.read_model_schema = read_model_schema;
    return std::make_unique<pg::PgCheckpointStore>(options, timeout);
  };
  parts.versions = std::make_unique<pg::PgVersionStore>(Db(c, "versions"));
  parts.control = std::make_unique<pg::PgControlStore>(Db(c, "control"));
  parts.positions = std::make_unique<pg::PgPositionSource>(Db(c, "mark"));
  auto events_health = std::make_shared<ListenMonitor>("events", clock, logger.Child("listen"));
  auto events = std::make_shared<pg::EventNotifier>(Db(c, "listen"), events_health);
  parts.wait_for_events = [events](std::chrono::milliseconds t) { return events->Wait(t); };
  auto generations_health = std::make_shared<ListenMonitor>("generations", clock, logger.Child("listen"));
  auto generations = std::make_shared<pg::EventNotifier>(
      Db(c, "listen"), pg::PgCoordinationStore::Channel(c.database_schema), generations_health);
  parts.wait_for_generation = [generations](std::chrono::milliseconds t) { return generations->Wait(t); };
  parts.listen_monitors = {events_health, generations_health};
  auto reader_options = Db(c, "reader");  // PgEventReader adds its planner settings
  parts.make_reader = [reader_options] { return std::make_unique<pg::PgEventReader>(reader_options); };
  if (!c.events_read_urls.empty()) AddStandbyReads(parts, c, reader_options);
  const auto dead_letter_options = Db(c, "dead-letters");
  parts.make_dead_letters = [dead_letter_options] {
    return std::make_unique<pg::PgDeadLetterStore>(dead_letter_options);
  };
  return parts;
}

// The linked projections named by PROJECTIONS, created once for the life of the process.
std::vector<std::unique_ptr<Projection>> CreateProjections(const ProjectionRegistry& registry, const Config& c) {
  if (const auto problems = registry.Problems(); !problems.empty()) {
    throw PermanentError("invalid projection registrations: " + problems.front());
  }
  try {
    return registry.Create(c.projections);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("PROJECTIONS: ") + e.what());
  }
}

// The versions of each projection name among `projections` (created sorted by name, version).
std::map<std::string, std::vector<int>> VersionsByName(const std::vector<std::unique_ptr<Projection>>& projections) {
  std::map<std::string, std::vector<int>> out;
  for (const auto& p : projections) out[p->Name()].push_back(p->Version());
  return out;
}

WorkerInfo ThisWorker(const Invocation& invocation) {
  const Config& c = invocation.loaded.config;
  WorkerInfo info;
  info.worker_id = NewWorkerId();
  info.worker_name = c.worker_name.empty() ? info.worker_id : c.worker_name;
  info.host = invocation.env.count("HOSTNAME") ? invocation.env.at("HOSTNAME") : "";
  info.pid = static_cast<int>(::getpid());
  info.version = kVersion;
  return info;
}

// Waits for SIGTERM/SIGINT, then stops the worker within SHUTDOWN_TIMEOUT; the exit code.
int RunUntilStopped(Worker& worker, StopSignals& signals, const Config& c, const Logger& logger) {
  signals.WaitForStop();
  logger.Info("stop signal received; shutting down",
              {{"signal", signals.signal() == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"shutdown_timeout_ms", std::to_string(c.shutdown_timeout.count())}});
  const auto plan = PlanShutdown(signals.requested_at(), c.shutdown_timeout, c.persistence_timeout);
  const ShutdownState stopped = worker.Shutdown(plan);
  const int code = ExitCodeOf(stopped);
  if (!stopped.abandoned.empty()) {
    // Their destructors would wait for them: leave now, as the deadline would.
    signals.Exit(code);
  }
  return code;
}

int RunWorker(const Invocation& invocation) {
  const Config& c = invocation.loaded.config;
  const auto logger = MakeLogger(invocation, "worker");
  // First, before any thread starts: destroyed last, so the deadline covers the teardown.
  StopSignals signals(c.shutdown_timeout, logger);

  auto projections = CreateProjections(*invocation.registry, c);
  const WorkerInfo info = ThisWorker(invocation);

  // Start-up needs the database once (projection setup, sequence check); a database that
  // is not up yet is waited for, with backoff, until a stop signal arrives.
  static const SystemClock clock;
  WorkerStartup startup([&signals](std::chrono::milliseconds t) { return signals.WaitForStop(t); },
                        Backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000)), logger,
                        c.database_schema);
  std::unique_ptr<Worker> worker;
  std::mutex worker_mu;  // the HTTP thread reads `worker` while start-up assigns it
  // GET /wait: its own connection. Each check is one short statement; short bounds on the
  // connect and on each check (client side too: a frozen server) keep it from holding the
  // stop, as WaitService::Stop waits for the check in progress.
  auto wait_db = Db(c, "waits");
  wait_db.timeouts.connect = std::chrono::seconds(2);
  wait_db.timeouts.statement = std::min(c.stale_worker_timeout, Duration(2000));
  wait_db.client_deadline = Duration(3000);
  WaitService waits(std::make_unique<pg::PgProgressStore>(wait_db), clock, logger.Child("wait"));
  // Declared after the worker: stopped and destroyed first. Up before the database is, so
  // /healthz answers and /readyz says why not ready during a slow start.
  std::unique_ptr<http::HttpServer> server;
  if (c.http_addr != "off") {
    http::WorkerEndpoints endpoints;
    endpoints.status = [&]() {
      std::lock_guard lock(worker_mu);
      if (worker) return MaskSecretsIn(worker->Status(), c.database_url, c.events_read_urls);
      WorkerStatus starting;
      starting.worker_id = info.worker_id;
      starting.worker_name = info.worker_name;
      starting.replica_set = c.replica_set;
      starting.coordination.last_error = startup.reason();
      return starting;
    };
    endpoints.http_figures = [&]() {
      return http::HttpFigures{server->open_connections(), server->evicted()};  // served only once started
    };
    endpoints.waits = &waits;
    endpoints.replica_set = c.replica_set;
    endpoints.reset_circuit_breaker = [&]() {
      std::lock_guard lock(worker_mu);
      if (worker) worker->ResetCircuitBreaker();
    };
    server = std::make_unique<http::HttpServer>(c.http_addr, http::MakeWorkerHandler(std::move(endpoints)),
                                                logger.Child("http"));
    waits.Start();
    server->Start();
    logger.Info("http listening", {{"addr", c.http_addr}, {"port", std::to_string(server->port())}});
  }
  signals.SetReporter([&]() -> std::optional<ShutdownState> {
    std::lock_guard lock(worker_mu);
    if (!worker) return std::nullopt;
    return worker->ShutdownProgress();
  });
  // The reporter reads `worker`: before it goes, the last report stays instead.
  struct FreezeReportOnReturn {
    StopSignals& signals;
    ~FreezeReportOnReturn() { signals.FreezeReport(); }
  } freeze_report{signals};

  // Created once, above: Setup runs on the instances that handle the events, each in the
  // schema of its version.
  const auto versions_of = VersionsByName(projections);
  pg::PgVersionStore setup_versions(Db(c, "setup"));
  VersionSetup version_setup(setup_versions, c.replica_set, Db(c, "setup", Statements::kUnbounded));
  StartupSteps<Projection, WorkerParts, Worker> steps;
  steps.pending_migrations = [&] { return pg::Migrator(Db(c, "setup")).Pending(); };
  steps.set_up = [&](Projection& p) { version_setup.SetUp(p, versions_of.at(p.Name())); };
  steps.connect = [&] { return BuildParts(c, logger); };
  steps.build = [&](WorkerParts parts, std::vector<std::unique_ptr<Projection>> instances) {
    parts.lanes = version_setup.lanes();
    for (auto& p : instances) {
      auto options = Db(c, "projection");
      options.read_model_schema = parts.lanes[LaneKey(p->Name(), p->Version())].schema;
      parts.sinks.push_back(std::make_unique<ProjectionSink>(std::move(p), options));
    }
    return std::make_unique<Worker>(std::move(parts), c, info, clock, logger);
  };
  auto built = startup.Run(std::move(projections), steps);
  if (!built) return kExitOk;  // stopped during start-up: never registered
  {
    std::lock_guard lock(worker_mu);
    worker = std::move(built);
  }
  worker->Start();
  const int code = RunUntilStopped(*worker, signals, c, logger);
  waits.Stop();  // pending waits answer 503 now
  if (server) server->Stop();
  return code;
}

}  // namespace

void AddRunCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("run", "run a worker of the replica set");
  AddConfigFlags(*cmd, invocation);
  auto print_config = std::make_shared<bool>(false);
  cmd->add_flag("--print-config", *print_config,
                "print the effective configuration with the source of each value, then exit");
  cmd->callback([&invocation, print_config] {
    invocation.action = [&invocation, print_config] {
      if (*print_config) {
        std::cout << PrintConfig(invocation.loaded);
        return kExitOk;
      }
      RequireDatabaseUrl(invocation);
      return RunWorker(invocation);
    };
  });
}

}  // namespace projd::cli
