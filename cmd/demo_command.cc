// `projd demo`: the main job on an embedded default. Without DATABASE_URL it starts a
// private PostgreSQL from the installed server binaries; then it migrates, seeds a sample
// stream, starts three `projd run` workers of replica set "demo" and shows them catching
// up live; midway one worker stops (SIGTERM) and a new one joins, so the handover is
// visible. It ends with a summary and an exactly-once check of stream_stats.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

#include <filesystem>
#include <thread>

#include "cmd/cli.h"
#include "cmd/demo_view.h"
#include "cmd/demo_worker.h"
#include "orchestrator/coordination/pg/replica_set_status.h"
#include "projections/examples/stream_stats_check.h"
#include "orchestrator/config/database_url.h"
#include "devtools/embedded_postgres.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "orchestrator/reading/pg/seeder.h"

namespace projd::cli {
namespace {

struct DemoFlags {
  bool keep = false;
  std::int64_t aggregates = 10000;
  std::int64_t events = 200000;
};

constexpr const char* kDemoReplicaSet = "demo";
// The three examples the live view shows (stream_catalog, the fourth, is for the benchmark).
constexpr const char* kDemoProjections = "stream_stats,type_counts,noop";

bool AllCaughtUp(const pg::ReplicaSetStatus& s) {
  if (s.projections.empty()) return false;
  for (const auto& p : s.projections) {
    if (p.partitions < s.partitions || p.lag_events > 0) return false;
  }
  return true;
}

bool Settled(const pg::ReplicaSetStatus& s, std::size_t members) {
  return s.exists && s.members.size() == members && s.unassigned.empty();
}

// Three workers, live view, a SIGTERM and a join midway; returns the exit code.
int RunWorkers(const Config& c, const pg::ConnectionOptions& db) {
  const std::map<std::string, std::string> env{
      {"DATABASE_URL", c.database_url},  {"DATABASE_SCHEMA", c.database_schema}, {"REPLICA_SET", kDemoReplicaSet},
      {"PROJECTIONS", kDemoProjections}, {"HEARTBEAT_INTERVAL", "1s"},           {"STALE_WORKER_TIMEOUT", "5s"},
      {"COORDINATION_TIMEOUT", "10s"},   {"POLL_INTERVAL", "250ms"},             {"PERSISTENCE_INTERVAL", "500ms"},
      {"PERSISTENCE_TIMEOUT", "2s"},     {"BATCH_SIZE", "500"},                  {"HTTP_ADDR", "127.0.0.1:0"},
      {"LOG_LEVEL", "warn"},             {"LOG_FORMAT", "text"}};
  const auto logs = std::filesystem::temp_directory_path() / ("projd-demo-logs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(logs);
  std::vector<std::unique_ptr<DemoWorker>> workers;
  for (const auto* name : {"demo-1", "demo-2", "demo-3"}) {
    workers.push_back(std::make_unique<DemoWorker>(name, env, logs.string()));
  }
  std::cout << "\nstarted 3 workers of replica set " << kDemoReplicaSet << " (logs in " << logs.string() << ")\n";

  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_frame = start;
  auto last_line = start - std::chrono::hours(1);
  std::map<std::string, std::int64_t> last_positions;
  enum class Phase { kStarting, kCatchingUp, kStopping, kJoining, kFinishing, kDone } phase = Phase::kStarting;
  const std::map<Phase, std::string> phase_text{
      {Phase::kStarting, "three workers are joining and splitting the 64 partitions"},
      {Phase::kCatchingUp, "catching up; demo-2 will be stopped midway"},
      {Phase::kStopping, "demo-2 got SIGTERM: it drains, leaves, and its partitions move at once"},
      {Phase::kJoining, "demo-4 is joining: it takes about a third of the partitions"},
      {Phase::kFinishing, "finishing the catch-up"},
      {Phase::kDone, "every projection is at the latest event"}};
  DemoWorker* const stopped = workers[1].get();  // not an element pointer: workers grows
  pg::ReplicaSetStatus st;
  while (phase != Phase::kDone) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start > std::chrono::minutes(10)) {
      std::cerr << "the demo did not finish within 10 minutes; worker logs are in " << logs.string() << "\n";
      return 1;
    }
    try {
      st = pg::ReadReplicaSetStatus(db, kDemoReplicaSet);
    } catch (const std::exception& e) {
      std::cerr << "reading the replica set failed: " << e.what() << "\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    const std::int64_t half = st.latest_position / 2;
    std::int64_t slowest = st.latest_position;
    for (const auto& p : st.projections) slowest = std::min(slowest, p.min_position);
    switch (phase) {
      case Phase::kStarting:
        if (Settled(st, 3)) phase = Phase::kCatchingUp;
        break;
      case Phase::kCatchingUp:
        if (slowest >= half || AllCaughtUp(st)) {
          stopped->Terminate();
          phase = Phase::kStopping;
        }
        break;
      case Phase::kStopping:
        if (stopped->Wait(std::chrono::milliseconds(0)) && Settled(st, 2)) {
          workers.push_back(std::make_unique<DemoWorker>("demo-4", env, logs.string()));
          phase = Phase::kJoining;
        }
        break;
      case Phase::kJoining:
        if (Settled(st, 3)) phase = Phase::kFinishing;
        break;
      case Phase::kFinishing:
        if (AllCaughtUp(st)) phase = Phase::kDone;
        break;
      case Phase::kDone: break;
    }
    DemoFrame frame;
    frame.phase = phase_text.at(phase);
    frame.elapsed_s = std::chrono::duration<double>(now - start).count();
    const double dt = std::chrono::duration<double>(now - last_frame).count();
    for (const auto& p : st.projections) {
      if (last_positions.count(p.name) && dt > 0) frame.rates[p.name] = (p.min_position - last_positions[p.name]) / dt;
      last_positions[p.name] = p.min_position;
    }
    last_frame = now;
    if (tty) {
      std::cout << "\033[H\033[2J" << RenderDemoFrame(st, frame) << std::flush;
    } else if (now - last_line >= std::chrono::seconds(2) || phase == Phase::kDone) {
      std::cout << RenderDemoLine(st, frame) << std::flush;
      last_line = now;
    }
    if (phase != Phase::kDone) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& w : workers) w->Terminate();
  int unclean = 0;
  for (auto& w : workers) {
    if (!w->Wait(std::chrono::seconds(30)) || w->exit_code() != 0) ++unclean;
  }
  const auto mismatches = examples::StreamStatsMismatches(db);
  std::printf("\nsummary\n  events: %lld (every projection is at the latest position)\n",
              static_cast<long long>(st.latest_position));
  for (const auto& p : st.projections) {
    std::printf("  %-14s checkpoints of %d partitions at %lld\n", p.name.c_str(), p.partitions,
                static_cast<long long>(p.min_position));
  }
  std::printf("  handover: demo-2 stopped with SIGTERM (exit %d), demo-4 joined\n", stopped->exit_code());
  if (mismatches == 0) {
    std::printf("  exactly once: stream_stats matches the events of every aggregate (0 mismatches)\n");
  } else {
    std::printf("  exactly once: FAILED, %lld aggregates disagree with the events\n", static_cast<long long>(mismatches));
  }
  std::printf("  elapsed: %.1f s (workers started to caught up)\n", elapsed);
  if (unclean > 0) std::printf("  %d workers did not stop cleanly (logs in %s)\n", unclean, logs.string().c_str());
  if (mismatches == 0 && unclean == 0) std::filesystem::remove_all(logs);
  return mismatches == 0 && unclean == 0 ? kExitOk : 1;
}

int RunDemo(const Invocation& invocation, const DemoFlags& flags) {
  Config c = invocation.loaded.config;
  std::optional<EmbeddedPostgres> embedded;
  if (c.database_url.empty()) {
    std::cout << "DATABASE_URL is unset: starting a private PostgreSQL ...\n" << std::flush;
    EmbeddedPostgres::Options options;
    options.keep = flags.keep;
    embedded.emplace(options);
    embedded->Start();
    c.database_url = embedded->Url();
    std::cout << "  PostgreSQL on 127.0.0.1:" << embedded->port() << " (data in " << embedded->base_dir()
              << ")\n";
  } else {
    std::cout << "using DATABASE_URL=" << MaskDatabaseUrl(c.database_url) << "\n";
  }
  const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-demo"};

  const auto migrated = pg::Migrator(db).Migrate();
  std::cout << "migrated schema " << c.database_schema << ": " << migrated.applied.size()
            << " applied, " << migrated.already_applied << " already there\n";

  const auto start = std::chrono::steady_clock::now();
  const auto seeded = pg::Seed(db, {.aggregates = flags.aggregates, .events = flags.events, .chunk = 50000,
                                    .prefix = "demo"});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seeded %lld events over %lld aggregates in %.2f s (%.0f events/s)\n",
              static_cast<long long>(seeded.events), static_cast<long long>(flags.aggregates), secs,
              secs > 0 ? seeded.events / secs : 0.0);

  pg::PgEventStore store(db);
  const auto summary = store.Summarize();
  std::printf("\nthe event store now holds %lld events in %lld aggregates (last position %lld)\n",
              static_cast<long long>(summary.events), static_cast<long long>(summary.aggregates),
              static_cast<long long>(summary.max_position));
  for (const auto& [type, n] : summary.per_event_type) {
    std::printf("  %-18s %10lld\n", type.c_str(), static_cast<long long>(n));
  }
  const auto stream = store.ReadStream({"seed", "account", "demo-000007"});
  std::printf("\nstream seed/account/demo-000007 (%zu events), first 5:\n", stream.size());
  for (std::size_t i = 0; i < stream.size() && i < 5; ++i) {
    const auto& e = stream[i];
    std::printf("  position %-8lld version %-4lld %-16s %s\n", static_cast<long long>(e.global_position),
                static_cast<long long>(e.aggregate_version), e.event_type.c_str(), e.payload.c_str());
  }
  const int code = RunWorkers(c, db);
  if (embedded && flags.keep) {
    std::cout << "\n--keep: the database keeps running at " << embedded->Url() << "\n"
              << "stop it with: pg_ctl -D " << embedded->data_dir() << " stop\n";
  } else if (embedded) {
    std::cout << "\nstopping the private PostgreSQL and removing its data (use --keep to keep it)\n";
  }
  return code;
}

}  // namespace

void AddDemoCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("demo", "run the demo (a private PostgreSQL unless DATABASE_URL is set)");
  AddConfigFlags(*cmd, invocation);
  auto flags = std::make_shared<DemoFlags>();
  cmd->add_flag("--keep", flags->keep, "leave the private database running and print its URL");
  cmd->add_option("--aggregates", flags->aggregates, "streams to seed (default 10000)")->check(CLI::PositiveNumber);
  cmd->add_option("--events", flags->events, "events to seed (default 200000)")->check(CLI::NonNegativeNumber);
  cmd->callback([&invocation, flags] {
    invocation.action = [&invocation, flags] { return RunDemo(invocation, *flags); };
  });
}

}  // namespace projd::cli
