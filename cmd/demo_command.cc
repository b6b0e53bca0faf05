// `projd demo`: the main job on an embedded default. Without DATABASE_URL it starts a
// private PostgreSQL from the installed server binaries, migrates, seeds a sample
// stream and shows what is there. (The multi-worker demo grows here with issue 7.)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "cmd/cli.h"
#include "orchestrator/database_url.h"
#include "orchestrator/embedded_postgres.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/pg/pg_event_store.h"
#include "orchestrator/pg/seeder.h"

namespace projd::cli {
namespace {

struct DemoFlags {
  bool keep = false;
  std::int64_t aggregates = 1000;
  std::int64_t events = 20000;
};

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
  if (embedded && flags.keep) {
    std::cout << "\n--keep: the database keeps running at " << embedded->Url() << "\n"
              << "stop it with: pg_ctl -D " << embedded->data_dir() << " stop\n";
  } else if (embedded) {
    std::cout << "\nstopping the private PostgreSQL and removing its data (use --keep to keep it)\n";
  }
  return kExitOk;
}

}  // namespace

void AddDemoCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("demo", "run the demo (a private PostgreSQL unless DATABASE_URL is set)");
  AddConfigFlags(*cmd, invocation);
  auto flags = std::make_shared<DemoFlags>();
  cmd->add_flag("--keep", flags->keep, "leave the private database running and print its URL");
  cmd->add_option("--aggregates", flags->aggregates, "streams to seed (default 1000)")->check(CLI::PositiveNumber);
  cmd->add_option("--events", flags->events, "events to seed (default 20000)")->check(CLI::NonNegativeNumber);
  cmd->callback([&invocation, flags] {
    invocation.action = [&invocation, flags] { return RunDemo(invocation, *flags); };
  });
}

}  // namespace projd::cli
