#include "orchestrator/reading/standby_board.h"

namespace projd {

StandbyBoard::StandbyBoard(std::vector<std::string> names) : size_(names.size()), names_(std::move(names)) {
  for (const auto& n : names_) entries_.push_back({StandbyStatus{.name = n}, false});
}

void StandbyBoard::Probed(std::size_t i, StandbyCondition condition, const std::optional<StandbyFacts>& facts,
                          std::uint64_t lag_bytes, std::chrono::milliseconds lag, const std::string& error) {
  std::lock_guard lock(mu_);
  auto& e = entries_.at(i);
  if (e.status.condition != condition) ++e.status.condition_changes;
  e.status.condition = condition;
  if (facts) e.status.facts = facts;
  if (!facts) ++e.status.probe_errors;
  if (!error.empty()) e.status.last_error = error;
  e.status.lag_bytes = lag_bytes;
  e.status.lag = lag;
  e.failed_since_probe = false;
}

bool StandbyBoard::Usable(std::size_t i) const {
  std::lock_guard lock(mu_);
  const auto& e = entries_.at(i);
  return e.status.condition == StandbyCondition::kUsable && !e.failed_since_probe;
}

void StandbyBoard::ReadFailed(std::size_t i, const std::string& error) {
  std::lock_guard lock(mu_);
  auto& e = entries_.at(i);
  e.failed_since_probe = true;
  e.status.last_error = error;
  ++e.status.read_errors;
}

void StandbyBoard::CountStandbyBatch(std::size_t i) {
  std::lock_guard lock(mu_);
  ++entries_.at(i).status.batches;
}

void StandbyBoard::CountPrimaryBatch() {
  std::lock_guard lock(mu_);
  ++primary_batches_;
}

void StandbyBoard::CountWait() {
  std::lock_guard lock(mu_);
  ++waits_;
}

StandbyReadFigures StandbyBoard::Figures() const {
  std::lock_guard lock(mu_);
  StandbyReadFigures f;
  for (const auto& e : entries_) f.standbys.push_back(e.status);
  f.primary_batches = primary_batches_;
  f.waits = waits_;
  return f;
}

}  // namespace projd
