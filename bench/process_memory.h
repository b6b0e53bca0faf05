// Resident memory of a process, read from /proc (Linux). For benchmark figures only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace projd::bench {

// VmRSS of `pid` in KiB, or -1 when the process is gone or /proc is unreadable.
std::int64_t ResidentKiB(pid_t pid);

// Peak of each process's resident memory over the samples taken so far.
class PeakResident {
 public:
  explicit PeakResident(std::vector<pid_t> pids) : pids_(std::move(pids)), peak_(pids_.size(), 0) {}
  void Sample();
  // Largest single-process peak and the sum of the peaks, in MiB.
  double MaxMiB() const;
  double SumMiB() const;

 private:
  std::vector<pid_t> pids_;
  std::vector<std::int64_t> peak_;
};

}  // namespace projd::bench
