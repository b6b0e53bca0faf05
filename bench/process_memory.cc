#include "bench/process_memory.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <string>

namespace projd::bench {

std::int64_t ResidentKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));  // "VmRSS:   12345 kB"
  }
  return -1;
}

void PeakResident::Sample() {
  for (std::size_t i = 0; i < pids_.size(); ++i) peak_[i] = std::max(peak_[i], ResidentKiB(pids_[i]));
}

double PeakResident::MaxMiB() const {
  return peak_.empty() ? 0 : *std::max_element(peak_.begin(), peak_.end()) / 1024.0;
}

double PeakResident::SumMiB() const { return std::accumulate(peak_.begin(), peak_.end(), std::int64_t{0}) / 1024.0; }

}  // namespace projd::bench
