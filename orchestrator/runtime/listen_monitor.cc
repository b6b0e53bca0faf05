#include "orchestrator/runtime/listen_monitor.h"

#include "orchestrator/config/database_url.h"

namespace projd {

ListenMonitor::ListenMonitor(std::string listener, const Clock& clock, std::optional<Logger> logger,
                             std::chrono::milliseconds log_interval)
    : clock_(clock), logger_(std::move(logger)), loss_log_(log_interval) {
  status_.listener = std::move(listener);
}

void ListenMonitor::Lost(const std::string& error) {
  std::lock_guard lock(mu_);
  status_.last_error = MaskSecrets(error);
  status_.listening = false;
  if (in_outage_) return;  // a failed reconnect of the same outage
  in_outage_ = true;
  outage_since_ = clock_.Now();
  ++status_.losses;
  const auto covered = loss_log_.Occur(outage_since_);
  outage_logged_ = covered > 0;
  if (logger_ && outage_logged_) {
    logger_->Warn("LISTEN connection lost; polling until it is back",
                  {{"listener", status_.listener}, {"error", status_.last_error},
                   {"outages", std::to_string(covered)}, {"losses_total", std::to_string(status_.losses)}});
  }
}

void ListenMonitor::Listening() {
  std::lock_guard lock(mu_);
  status_.listening = true;
  if (!in_outage_) return;
  in_outage_ = false;
  if (logger_ && outage_logged_) {
    const auto down = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - outage_since_);
    logger_->Info("LISTEN connection back", {{"listener", status_.listener}, {"down_ms", std::to_string(down.count())}});
  }
}

ListenStatus ListenMonitor::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace projd
