// `projd wait NAME --position P [--timeout D]`: read-your-writes for scripts. Exits 0 once
// projection NAME (its active version, or NAME@N) has processed position P in REPLICA_SET,
// 1 at the timeout with the partitions still behind, 2 for bad arguments. The loop and the
// rule are in orchestrator/waits (the rule itself: migrations/0011_projd_wait.sql).
#include <iostream>
#include <memory>
#include <thread>

#include "cmd/cli.h"
#include "orchestrator/config/duration.h"
#include "orchestrator/waits/pg/pg_progress_store.h"
#include "orchestrator/waits/progress_wait.h"

namespace projd::cli {
namespace {

struct WaitArgs {
  std::string projection;
  std::int64_t position = 0;
  std::string timeout = "30s";
};

int RunWait(const Invocation& invocation, const WaitArgs& args) {
  RequireDatabaseUrl(invocation);
  const Config& c = invocation.loaded.config;
  std::string problem;
  if (!ValidWaitProjection(args.projection, &problem)) throw UsageError("projection: " + problem);
  const auto timeout = ParseDuration(args.timeout);
  if (!timeout || timeout->count() < 0) {
    throw UsageError("--timeout: \"" + args.timeout + "\" is not a duration >= 0 (e.g. 500ms, 30s, 2m)");
  }
  const WaitTarget target{args.projection, args.position, c.replica_set};
  pg::PgProgressStore store(pg::ConnectionOptions{c.database_url, c.database_schema, "projd-wait"});
  static const SystemClock clock;
  const auto outcome = WaitUntilProcessed(
      store, target, *timeout, clock, [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); },
      MakeLogger(invocation, "wait"));
  if (outcome.processed) {
    std::cout << "projection " << target.projection << " of replica set " << target.replica_set
              << " has processed position " << target.position << "\n";
    return kExitOk;
  }
  std::cerr << "projd: timed out after " << FormatDuration(*timeout) << ": projection " << target.projection;
  if (!outcome.last.lane.empty() && outcome.last.lane != target.projection) std::cerr << " (" << outcome.last.lane << ")";
  std::cerr << " of replica set " << target.replica_set << " has not processed position " << target.position << "\n";
  if (outcome.any_read) std::cerr << DescribeBehind(target, outcome.last);
  if (!outcome.last_error.empty()) std::cerr << "last database error: " << outcome.last_error << "\n";
  return kExitFailure;
}

}  // namespace

void AddWaitCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand(
      "wait", "wait until a projection has processed an event position (read-your-writes); exit 1 at the timeout");
  AddConfigFlags(*cmd, invocation);
  auto args = std::make_shared<WaitArgs>();
  cmd->add_option("projection", args->projection, "the projection (its active version), or NAME@N for version N")
      ->required();
  cmd->add_option("--position", args->position, "the event's global_position (as `projd append` prints it)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", args->timeout, "how long to wait, e.g. 500ms, 30s, 2m (default 30s)");
  cmd->callback([&invocation, args] {
    invocation.action = [&invocation, args] { return RunWait(invocation, *args); };
  });
}

}  // namespace projd::cli
