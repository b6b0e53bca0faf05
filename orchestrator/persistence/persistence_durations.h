// PersistenceDurations: a PersistenceObserver that counts the persistence core's
// transaction durations into histograms, by flush trigger and one for transactional units.
// Thread-safe (the histograms are lock-free: the core calls it after every transaction).
#pragma once

#include <array>
#include <map>
#include <string>

#include "orchestrator/common/latency_histogram.h"
#include "orchestrator/persistence/persistence_core.h"

namespace projd {

class PersistenceDurations final : public PersistenceObserver {
 public:
  void OnFlush(Trigger trigger, FlushOutcome, std::chrono::microseconds duration, std::size_t) override {
    flushes_[Index(trigger)].Observe(duration);
  }
  void OnUnit(UnitResult, std::chrono::microseconds duration) override { units_.Observe(duration); }

  // By trigger name ("interval", "size", "lag", "caught_up", "force", "revoke", "shutdown")
  // and "unit": the `trigger` label of projd_persistence_flush_duration_seconds. Every name
  // is present from the start.
  std::map<std::string, HistogramSnapshot> Snapshot() const {
    std::map<std::string, HistogramSnapshot> out;
    for (const auto t : kTriggers) out[ToString(t)] = flushes_[Index(t)].Snapshot();
    out["unit"] = units_.Snapshot();
    return out;
  }

 private:
  std::array<LatencyHistogram, kTriggers.size()> flushes_;
  LatencyHistogram units_;
};

}  // namespace projd
