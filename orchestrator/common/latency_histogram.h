// LatencyHistogram: durations counted into fixed buckets (seconds, Prometheus-style
// cumulative on export), lock-free to observe. The orchestrator counts; the HTTP layer
// exports (orchestrator/http/metrics_exporter). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace projd {

struct HistogramSnapshot {
  static constexpr std::array<double, 14> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10,  30};
  std::array<std::uint64_t, kBounds.size()> buckets{};  // per bucket, not cumulative
  std::uint64_t count = 0;                              // includes observations above the last bound
  double sum = 0;                                       // seconds
};

class LatencyHistogram {
 public:
  void Observe(std::chrono::nanoseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    for (std::size_t i = 0; i < HistogramSnapshot::kBounds.size(); ++i) {
      if (s <= HistogramSnapshot::kBounds[i]) {
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
    sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()), std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  HistogramSnapshot Snapshot() const {
    HistogramSnapshot s;
    for (std::size_t i = 0; i < s.buckets.size(); ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, HistogramSnapshot::kBounds.size()> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace projd
