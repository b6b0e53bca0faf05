// `projd seed`: bulk synthetic load; prints events/s.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/reading/pg/seeder.h"

namespace projd::cli {

void AddSeedCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("seed", "append synthetic events quickly (demo and benchmarks)");
  AddConfigFlags(*cmd, invocation);
  auto seed = std::make_shared<pg::SeedOptions>();
  cmd->add_option("--aggregates", seed->aggregates, "number of streams (default 1000)")->check(CLI::PositiveNumber);
  cmd->add_option("--events", seed->events, "total number of events (default 100000)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--chunk", seed->chunk, "events per transaction (default 50000)")->check(CLI::PositiveNumber);
  cmd->add_option("--prefix", seed->prefix, "aggregate id prefix (default agg)");
  cmd->callback([&invocation, seed] {
    invocation.action = [&invocation, seed] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      const auto start = std::chrono::steady_clock::now();
      const auto result = pg::Seed({c.database_url, c.database_schema, "projd-seed"}, *seed);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("seeded %lld events over %lld aggregates (positions %lld..%lld) in %.2f s: %.0f events/s\n",
                  static_cast<long long>(result.events), static_cast<long long>(seed->aggregates),
                  static_cast<long long>(result.first_position), static_cast<long long>(result.last_position),
                  secs, secs > 0 ? result.events / secs : 0.0);
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
