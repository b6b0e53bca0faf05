#include "orchestrator/reading/standby_watch.h"

#include <string>

namespace projd {

StandbyWatch::StandbyWatch(std::vector<std::unique_ptr<StandbyProbe>> probes, const WalMarks& marks,
                           StandbyBoard& board, const Clock& clock, Logger logger, std::chrono::milliseconds max_lag)
    : probes_(std::move(probes)),
      marks_(marks),
      board_(board),
      clock_(clock),
      logger_(std::move(logger)),
      max_lag_(max_lag),
      last_(probes_.size(), StandbyCondition::kUnknown) {}

void StandbyWatch::Round() {
  for (std::size_t i = 0; i < probes_.size(); ++i) ProbeOne(i);
}

void StandbyWatch::ProbeOne(std::size_t i) {
  std::optional<StandbyFacts> facts;
  std::string error;
  try {
    facts = probes_[i]->Probe();
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto primary = marks_.Latest();
  std::uint64_t lag_bytes = 0;
  std::chrono::milliseconds lag{0};
  if (facts && primary && facts->replayed.SameHistory(*primary)) {
    lag_bytes = primary->lsn > facts->replayed.lsn ? primary->lsn - facts->replayed.lsn : 0;
    lag = marks_.LagBehind(facts->replayed.lsn, clock_.Now());
  }
  const auto condition = AssessStandby(facts, primary, lag, max_lag_);
  board_.Probed(i, condition, facts, lag_bytes, lag, error);
  if (condition == last_[i]) return;
  LogFields fields{{"standby", board_.Name(i)}, {"condition", ConditionName(condition)}, {"was", ConditionName(last_[i])}};
  if (!error.empty()) fields.push_back({"error", error});
  if (condition == StandbyCondition::kLagging) fields.push_back({"lag_ms", std::to_string(lag.count())});
  if (condition == StandbyCondition::kUsable || condition == StandbyCondition::kPrimaryUnknown) {
    logger_.Info("standby condition changed", fields);
  } else {
    logger_.Warn("standby not used for reading events", fields);
  }
  last_[i] = condition;
}

}  // namespace projd
