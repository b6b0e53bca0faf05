// `projd projections reset NAME[@N] --to-position P | --to-time T [--skip] [--dry-run]`: move
// every checkpoint of a projection lane to one position as a generation change
// (PgCoordinationStore::ResetProjection), without the Reset hook: the read model stays and the
// running workers replay what lies above P (or skip what lies below it). docs/operations.md,
// "Replaying or skipping part of a projection".
#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cmd/cli.h"
#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"

namespace projd::cli {
namespace {

struct ResetArgs {
  std::string name;
  std::string to_position;
  std::string to_time;
  bool skip = false;
  bool dry_run = false;
};

// The lane NAME@N names, or the active version of NAME (the binary's only version of it
// when no worker registered versions yet). Unknown names are usage errors.
std::string LaneOf(const Invocation& invocation, const pg::ConnectionOptions& db, const std::string& name) {
  std::vector<std::unique_ptr<Projection>> created;
  try {
    created = invocation.registry->Create({name});
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const auto& first = *created.front();
  if (name.find('@') != std::string::npos) return LaneKey(first.Name(), first.Version());
  pg::PgVersionStore versions(db);
  for (const auto& v : versions.List(invocation.loaded.config.replica_set)) {
    if (v.projection == first.Name() && v.state == VersionState::kActive) return LaneKey(v.projection, v.version);
  }
  if (created.size() > 1) {
    throw UsageError("no active version of " + name + " is recorded: name one, as " + name + "@N");
  }
  return LaneKey(first.Name(), first.Version());
}

// --to-position's value, after the checks that need no database (so that a wrong flag is
// named even without DATABASE_URL); nullopt with --to-time.
std::optional<std::int64_t> CheckFlags(const ResetArgs& args) {
  if (args.to_position.empty() == args.to_time.empty()) {
    throw UsageError("give exactly one of --to-position and --to-time");
  }
  if (!args.to_time.empty()) {
    if (!IsRfc3339Timestamp(args.to_time)) {
      throw UsageError("--to-time: '" + args.to_time + "' is not an RFC 3339 timestamp (e.g. 2026-12-01T10:00:00Z)");
    }
    return std::nullopt;
  }
  std::int64_t p = 0;
  const auto* end = args.to_position.data() + args.to_position.size();
  const auto [ptr, ec] = std::from_chars(args.to_position.data(), end, p);
  if (ec != std::errc() || ptr != end) throw UsageError("--to-position: '" + args.to_position + "' is not a position");
  if (p < 0) throw UsageError("--to-position: " + Describe(ResetRefusal::kNegativeTarget, p, 0));
  return p;
}

void PrintPlan(const ResetPlan& plan) {
  for (const auto& m : plan.moves) std::cout << "  " << DescribeMove(m, true) << "\n";
  std::cout << EventsMoving(plan.moves, ResetDirection::kBack) << " events would be replayed, "
            << EventsMoving(plan.moves, ResetDirection::kForward) << " skipped (latest event " << plan.latest
            << ", counts before the projection's scope filter)\n";
}

// The usage error of a refusal, naming the flag to change.
UsageError Refused(const ResetArgs& args, ResetRefusal refusal, std::int64_t target, std::int64_t latest) {
  std::string flag = args.to_time.empty() ? "--to-position" : "--to-time";
  if (refusal == ResetRefusal::kSkipNotConfirmed) flag = "--skip";
  if (refusal == ResetRefusal::kNoCheckpoints) flag = "projection";
  return UsageError(flag + ": " + Describe(refusal, target, latest) + "; nothing changed");
}

// `step()` (a read, or the reset), retried with backoff while the database is unavailable
// (nothing committed then), with a line per attempt. Not after an in-doubt commit: a second
// reset would move the rows back again.
template <typename Fn>
auto WithRetries(const char* what, Fn&& step) {
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(8));
  for (;;) {
    try {
      return step();
    } catch (const TransientError& e) {
      if (backoff.attempts() >= 5) throw;
      const auto wait = backoff.Next();
      std::cerr << "projd: " << what << " failed (" << e.what() << "); retrying in " << wait.count() << " ms\n";
      std::this_thread::sleep_for(wait);
    } catch (const InDoubtError& e) {
      throw InDoubtError(std::string(e.what()) +
                         "; the reset may or may not have committed: check projd_checkpoints before trying again");
    }
  }
}

int RunReset(const Invocation& invocation, const ResetArgs& args) {
  const auto position = CheckFlags(args);
  RequireDatabaseUrl(invocation);
  const Config& c = invocation.loaded.config;
  const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-reset"};
  const auto lane = WithRetries("reading the projection versions", [&] { return LaneOf(invocation, db, args.name); });
  pg::PgCoordinationStore store(db);
  // --to-time: P from the events' created_at (PgCoordinationStore::PositionBefore).
  const auto target =
      position ? *position : WithRetries("reading events.created_at", [&] { return store.PositionBefore(args.to_time); });
  std::cout << "projection " << lane << " of replica set " << c.replica_set << ": to position " << target << "\n";
  const auto plan = WithRetries("reading the checkpoints", [&] { return store.PlanReset(c.replica_set, lane, target); });
  if (args.dry_run || plan.refusal == ResetRefusal::kSkipNotConfirmed) PrintPlan(plan);
  // Refused from the plan when it already shows why (the reset would wait for the batches in
  // flight first); the reset's own transaction checks again on the rows it locked. A dry run
  // is refused the same way, except for the skip it is there to show.
  const bool skip_shown = plan.refusal == ResetRefusal::kSkipNotConfirmed && (args.skip || args.dry_run);
  if (plan.refusal != ResetRefusal::kNone && !skip_shown) throw Refused(args, plan.refusal, target, plan.latest);
  if (args.dry_run) {
    if (plan.refusal == ResetRefusal::kSkipNotConfirmed && !args.skip) std::cout << "(the reset needs --skip)\n";
    return kExitOk;
  }
  const auto skip = args.skip ? SkipPolicy::kAllow : SkipPolicy::kRefuse;
  const auto result =
      WithRetries("reset", [&] { return store.ResetProjection(c.replica_set, lane, target, skip); });
  if (result.refusal != ResetRefusal::kNone) throw Refused(args, result.refusal, target, result.latest);
  for (const auto& m : result.moves) std::cout << "  " << DescribeMove(m, false) << "\n";
  std::cout << result.moves.size() << " checkpoints moved as generation " << result.generation
            << "; dead letters removed: " << result.dead_letters_removed
            << "; running workers restart every partition from there\n";
  return kExitOk;
}

}  // namespace

void AddResetCommand(CLI::App& projections, Invocation& invocation) {
  auto* cmd = projections.add_subcommand(
      "reset", "move a projection's checkpoints to a position: replay what lies above it, or skip to it (--skip)");
  AddConfigFlags(*cmd, invocation);
  auto args = std::make_shared<ResetArgs>();
  cmd->add_option("projection", args->name, "the projection (NAME: its active version, NAME@N: version N)")
      ->required();
  cmd->add_option("--to-position", args->to_position, "the position P: every checkpoint moves to P");
  cmd->add_option("--to-time", args->to_time,
                  "an RFC 3339 timestamp T: P is the position before the first event created at or after T");
  cmd->add_flag("--skip", args->skip, "confirm that checkpoints below P move forward: those events are never applied");
  cmd->add_flag("--dry-run", args->dry_run, "print each partition's move and the events it replays or skips; change nothing");
  cmd->callback([&invocation, args] {
    invocation.action = [&invocation, args] { return RunReset(invocation, *args); };
  });
}

}  // namespace projd::cli
