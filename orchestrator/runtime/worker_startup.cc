#include "orchestrator/runtime/worker_startup.h"

namespace projd {

WorkerStartup::WorkerStartup(WaitForStop wait_for_stop, Backoff backoff, Logger logger, std::string schema)
    : wait_for_stop_(std::move(wait_for_stop)),
      backoff_(std::move(backoff)),
      logger_(std::move(logger)),
      schema_(std::move(schema)),
      reason_("starting: waiting for the database") {}

std::string WorkerStartup::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

bool WorkerStartup::WaitForMigrations(const std::vector<std::string>& pending) {
  {
    std::lock_guard lock(mu_);
    reason_ = "starting: waiting for migrations (run projd migrate)";
  }
  const auto wait = backoff_.Next();
  logger_.Warn("schema not migrated yet; waiting for projd migrate",
               {{"pending", std::to_string(pending.size())}, {"first", pending.front()},
                {"schema", schema_}, {"retry_in_ms", std::to_string(wait.count())}});
  return wait_for_stop_(wait);
}

bool WorkerStartup::WaitForDatabase(const TransientError& error) {
  const auto wait = backoff_.Next();
  logger_.Warn("database unavailable at start-up; retrying",
               {{"error", error.what()}, {"retry_in_ms", std::to_string(wait.count())}});
  return wait_for_stop_(wait);
}

}  // namespace projd
