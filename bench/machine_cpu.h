// How busy the machine's CPUs were between two samples, read from /proc/stat (Linux). For
// benchmark figures only: a row that ran with the CPUs saturated is limited by the machine.
#pragma once

#include <cstdint>

namespace projd::bench {

struct CpuSample {
  std::uint64_t busy = 0;   // jiffies in every state but idle and iowait
  std::uint64_t total = 0;  // all jiffies
};

CpuSample SampleCpu();
// Share of CPU time (0..1) that was busy between `from` and `to`, over all CPUs.
double BusyShare(const CpuSample& from, const CpuSample& to);

}  // namespace projd::bench
