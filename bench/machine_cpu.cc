#include "bench/machine_cpu.h"

#include <fstream>
#include <string>

namespace projd::bench {

CpuSample SampleCpu() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;  // "cpu": the sum over all CPUs
  std::uint64_t v[8] = {};
  for (auto& x : v) in >> x;  // user nice system idle iowait irq softirq steal
  CpuSample s;
  for (int i = 0; i < 8; ++i) {
    s.total += v[i];
    if (i != 3 && i != 4) s.busy += v[i];
  }
  return s;
}

double BusyShare(const CpuSample& from, const CpuSample& to) {
  const auto total = to.total - from.total;
  return total == 0 ? 0.0 : static_cast<double>(to.busy - from.busy) / static_cast<double>(total);
}

}  // namespace projd::bench
