// `projd versions list|promote|rollback|drop`: the versions of projections
// (docs/projections.md, "Versions"; docs/operations.md, "Rolling out a projection version").
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cmd/cli.h"
#include "orchestrator/config/duration.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "orchestrator/versions/version_rules.h"

namespace projd::cli {
namespace {

pg::ConnectionOptions Db(const Config& c) { return {c.database_url, c.database_schema, "projd-versions"}; }

void PrintVersions(const std::vector<ProjectionVersion>& versions) {
  std::printf("%-24s %7s %-9s %-28s %10s %12s %14s\n", "PROJECTION", "VERSION", "STATE", "SCHEMA", "PARTITIONS",
              "MIN_POSITION", "BEHIND");
  for (const auto& v : versions) {
    const auto behind = v.state == VersionState::kActive
                            ? std::string("-")
                            : std::to_string(v.partitions_behind) + "p/" + std::to_string(v.max_behind);
    std::printf("%-24s %7d %-9s %-28s %10d %12lld %14s\n", v.projection.c_str(), v.version, ToString(v.state),
                v.schema.empty() ? "(in place)" : v.schema.c_str(), v.partitions_with_checkpoints,
                static_cast<long long>(v.min_position), behind.c_str());
  }
}

std::optional<ProjectionVersion> Find(pg::PgVersionStore& store, const Config& c, const SwitchRequest& request) {
  for (const auto& v : store.List(c.replica_set)) {
    if (v.projection == request.projection && v.version == request.to_version) return v;
  }
  return std::nullopt;
}

bool IsActive(pg::PgVersionStore& store, const Config& c, const SwitchRequest& request) {
  const auto v = Find(store, c, request);
  return v && v->state == VersionState::kActive;
}

// Waits, reading the progress only (no lock), until a switch is worth trying: a switch holds
// the active version's checkpoints for up to request.catch_up_wait, and doing so while the
// version is far behind would hold the serving version's batches again and again.
bool WaitUntilClose(pg::PgVersionStore& store, const Config& c, const SwitchRequest& request,
                    std::chrono::steady_clock::time_point until) {
  ProgressRates rates;
  const auto lane = LaneKey(request.projection, request.to_version);
  for (;;) {
    const auto v = Find(store, c, request);
    if (!v || !VersionRuns(v->state) || v->state == VersionState::kActive) return true;  // Switch says why
    rates.Observe(lane, v->min_position, std::chrono::steady_clock::now());
    if (SwitchWorthTrying(*v, rates.PerSecond(lane), request.catch_up_wait)) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the workers go on building it
  }
}

// A retired version promoted without --force builds again first: it shows nothing older
// than the active version (its workers catch it up from its checkpoints).
void ResumeIfRetired(pg::PgVersionStore& store, const Config& c, const SwitchRequest& request) {
  if (request.require != SwitchRequest::Require::kCaughtUp) return;
  if (store.Resume(c.replica_set, request.projection, request.to_version)) {
    std::cout << request.projection << ": version " << request.to_version
              << " was retired; it builds again from its checkpoints and is switched to once caught up\n";
  }
}

// Switches, retrying a switch that found the version behind until `timeout`.
int RunSwitch(pg::PgVersionStore& store, const Config& c, SwitchRequest request, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  // Inside one persistence batch of the workers (their PERSISTENCE_TIMEOUT), as theirs.
  request.catch_up_wait = std::min(std::chrono::milliseconds(1000), c.persistence_timeout / 3);
  for (;;) {
    if (request.require == SwitchRequest::Require::kCaughtUp && !WaitUntilClose(store, c, request, until)) {
      std::cerr << "not switched: " << LaneKey(request.projection, request.to_version)
                << " has not caught up with the active version (still, after " << FormatDuration(timeout) << ")\n";
      return kExitFailure;
    }
    const auto result = store.Switch(c.replica_set, request);
    if (result.outcome == SwitchOutcome::kSwitched) {
      std::cout << request.projection << ": version " << request.to_version << " is active (was "
                << result.from_version << "); " << result.stable_names << " stable names point at it";
      if (result.generation > 0) std::cout << "; generation " << result.generation;
      std::cout << "\n";
      return kExitOk;
    }
    if (result.outcome == SwitchOutcome::kRefused) {
      if (IsActive(store, c, request)) {  // a worker switched it first (VERSION_SWITCH=auto)
        std::cout << request.projection << ": version " << request.to_version << " is active\n";
        return kExitOk;
      }
      throw UsageError(result.reason);
    }
    if (std::chrono::steady_clock::now() >= until) {
      std::cerr << "not switched: " << result.reason << " (still, after " << FormatDuration(timeout) << ")\n";
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the workers go on building it
  }
}

void AddList(CLI::App& cmd, Invocation& invocation) {
  auto* list = cmd.add_subcommand("list", "every version of every projection, its state and progress");
  AddConfigFlags(*list, invocation);
  list->callback([&invocation] {
    invocation.action = [&invocation] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgVersionStore store(Db(c));
      PrintVersions(store.List(c.replica_set));
      return kExitOk;
    };
  });
}

void AddPromote(CLI::App& cmd, Invocation& invocation) {
  auto* promote = cmd.add_subcommand("promote", "make a version active once it has caught up (or at once: --force)");
  AddConfigFlags(*promote, invocation);
  auto name = std::make_shared<std::string>();
  auto version = std::make_shared<int>(0);
  auto force = std::make_shared<bool>(false);
  auto timeout = std::make_shared<std::string>("60s");
  promote->add_option("projection", *name, "the projection")->required();
  promote->add_option("version", *version, "the version (default: the highest building or ready one)");
  promote->add_flag("--force", *force, "switch now, even when the version is behind the active one");
  promote->add_option("--timeout", *timeout, "how long to wait for the version to catch up (default 60s)");
  promote->callback([&invocation, name, version, force, timeout] {
    invocation.action = [&invocation, name, version, force, timeout] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      const auto wait = ParseDuration(*timeout);
      if (!wait) throw UsageError("--timeout: not a duration: " + *timeout);
      pg::PgVersionStore store(Db(c));
      SwitchRequest request;
      request.projection = *name;
      request.to_version = *version;
      if (request.to_version == 0) {
        const auto target = PromoteTarget(store.List(c.replica_set), *name);
        if (!target) throw UsageError(*name + " has no building or ready version");
        request.to_version = *target;
      }
      request.require = *force ? SwitchRequest::Require::kNothing : SwitchRequest::Require::kCaughtUp;
      ResumeIfRetired(store, c, request);
      return RunSwitch(store, c, request, *wait);
    };
  });
}

void AddRollback(CLI::App& cmd, Invocation& invocation) {
  auto* rollback = cmd.add_subcommand("rollback", "switch back to the version retired last (at once)");
  AddConfigFlags(*rollback, invocation);
  auto name = std::make_shared<std::string>();
  rollback->add_option("projection", *name, "the projection")->required();
  rollback->callback([&invocation, name] {
    invocation.action = [&invocation, name] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgVersionStore store(Db(c));
      const auto target = RollbackTarget(store.List(c.replica_set), *name);
      if (!target) throw UsageError(*name + " has no retired version to switch back to");
      SwitchRequest request;
      request.projection = *name;
      request.to_version = *target;
      request.require = SwitchRequest::Require::kNothing;
      return RunSwitch(store, c, request, std::chrono::milliseconds(0));
    };
  });
}

void AddDrop(CLI::App& cmd, Invocation& invocation) {
  auto* drop = cmd.add_subcommand("drop", "drop a version that is not active: its schema, checkpoints stay fenced");
  AddConfigFlags(*drop, invocation);
  auto name = std::make_shared<std::string>();
  auto version = std::make_shared<int>(0);
  drop->add_option("projection", *name, "the projection")->required();
  drop->add_option("version", *version, "the version")->required();
  drop->callback([&invocation, name, version] {
    invocation.action = [&invocation, name, version] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgVersionStore store(Db(c));
      const auto result = store.Drop(c.replica_set, *name, *version);
      if (!result.dropped) throw UsageError(result.reason);
      std::cout << LaneKey(*name, *version) << " dropped\n";
      return kExitOk;
    };
  });
}

}  // namespace

void AddVersionsCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("versions", "list, promote, roll back or drop projection versions");
  cmd->require_subcommand(1);
  AddList(*cmd, invocation);
  AddPromote(*cmd, invocation);
  AddRollback(*cmd, invocation);
  AddDrop(*cmd, invocation);
}

}  // namespace projd::cli
