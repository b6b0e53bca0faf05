// PersistenceDurations: a PersistenceObserver that counts the persistence core's
// transaction durations into histograms, by flush trigger ("interval", "size", "lag", "caught_up", "force",
// "revoke", "shutdown") and "unit" for transactional units. Thread-safe.
#pragma once

#include <map>
#include <string>

#include "orchestrator/common/latency_histogram.h"
#include "orchestrator/persistence/persistence_core.h"

namespace projd {

class PersistenceDurations final : public PersistenceObserver {
 public:
  PersistenceDurations() {
    for (const auto* name : {"interval", "size", "lag", "caught_up", "force", "revoke", "shutdown", "unit"}) histograms_.try_emplace(name);
  }
  void OnFlush(Trigger trigger, FlushOutcome, std::chrono::microseconds duration, std::size_t) override {
    histograms_.at(ToString(trigger)).Observe(duration);
  }
  void OnUnit(UnitResult, std::chrono::microseconds duration) override { histograms_.at("unit").Observe(duration); }

  std::map<std::string, HistogramSnapshot> Snapshot() const {
    std::map<std::string, HistogramSnapshot> out;
    for (const auto& [name, h] : histograms_) out[name] = h.Snapshot();
    return out;
  }

 private:
  std::map<std::string, LatencyHistogram> histograms_;  // keys fixed at construction: reads only after
};

}  // namespace projd
