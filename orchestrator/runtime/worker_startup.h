// WorkerStartup: what `projd run` does before its worker exists, as a loop over injected
// steps, so that tests reach every branch without a database (cmd/run_command.cc injects the
// PostgreSQL steps, tests/unit/worker_startup_test.cpp fakes).
//
//   1. pending_migrations: a worker never migrates (in Kubernetes the migration Job may still
//      be running); while migrations are pending it waits, with backoff, for `projd migrate`.
//   2. set_up: every projection's Setup hook.
//   3. connect: the worker's parts that need the database (the position sequence check).
//   4. build: the worker, over those parts and the projections.
//
// A TransientError in 1..3 (the database not up yet, or gone for a moment) waits with
// backoff and starts over at 1 on the SAME projection instances: they are created once,
// before the start-up, and a retry runs their Setup again (Setup is idempotent by contract,
// docs/projections.md), so the instances whose Setup ran are the ones that handle events.
// They go to the worker only in step 4, which needs no database: a retry always has them.
// Any other error propagates (PermanentError, UsageError: the command's exit codes).
// Every wait ends when a stop arrives: then nothing is built (or what was built is dropped
// unstarted) and the worker never registers.
//
// Not thread-safe, except reason(): one thread runs the start-up, the HTTP thread reads
// what /status and /readyz show meanwhile.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/common/logging.h"

namespace projd {

// The steps of the start-up. `Instance` is what the registry creates (projd::Projection),
// `Parts` what the worker needs besides its projections (WorkerParts), `Built` the worker
// (projd::Worker); templates so that the tests need neither libpqxx nor a database.
template <typename Instance, typename Parts, typename Built>
struct StartupSteps {
  // The schema migrations not applied yet, by name (empty: the schema is current).
  std::function<std::vector<std::string>()> pending_migrations;
  // Runs one projection's Setup hook; again on the same instance after a transient failure.
  std::function<void(Instance&)> set_up;
  // Everything the worker needs besides its projections; may need the database.
  std::function<Parts()> connect;
  // The worker over the parts and the projections that were set up. Must not need the
  // database: a TransientError here propagates (the projections are given away).
  std::function<std::unique_ptr<Built>(Parts, std::vector<std::unique_ptr<Instance>>)> build;
};

class WorkerStartup {
 public:
  // Waits up to the timeout for a stop; true once one arrived (0: has one arrived?).
  using WaitForStop = std::function<bool(std::chrono::milliseconds)>;

  // `logger` gets the waits' warnings; `schema` is named in the migrations one.
  WorkerStartup(WaitForStop wait_for_stop, Backoff backoff, Logger logger, std::string schema);

  // Runs the steps until the worker is built: the worker, or null when a stop arrived
  // during start-up (nothing registered: exit 0).
  template <typename Instance, typename Parts, typename Built>
  std::unique_ptr<Built> Run(std::vector<std::unique_ptr<Instance>> projections,
                             const StartupSteps<Instance, Parts, Built>& steps);

  // Why the worker is not running yet ("starting: ..."), for /status and /readyz.
  // Thread-safe.
  std::string reason() const;

 private:
  bool StopRequested() const { return wait_for_stop_(std::chrono::milliseconds(0)); }
  // Each waits the next backoff, saying why first; true when a stop arrived meanwhile.
  bool WaitForMigrations(const std::vector<std::string>& pending);
  bool WaitForDatabase(const TransientError& error);

  WaitForStop wait_for_stop_;
  Backoff backoff_;
  Logger logger_;
  const std::string schema_;
  mutable std::mutex mu_;
  std::string reason_;
};

template <typename Instance, typename Parts, typename Built>
std::unique_ptr<Built> WorkerStartup::Run(std::vector<std::unique_ptr<Instance>> projections,
                                          const StartupSteps<Instance, Parts, Built>& steps) {
  std::optional<Parts> parts;
  while (!parts) {
    if (StopRequested()) return nullptr;
    try {
      if (const auto pending = steps.pending_migrations(); !pending.empty()) {
        if (WaitForMigrations(pending)) return nullptr;
        continue;
      }
      for (auto& p : projections) steps.set_up(*p);
      parts.emplace(steps.connect());
    } catch (const TransientError& e) {
      if (WaitForDatabase(e)) return nullptr;
    }
  }
  auto built = steps.build(std::move(*parts), std::move(projections));
  if (StopRequested()) return nullptr;  // stopped during start-up: dropped unstarted
  return built;
}

}  // namespace projd
