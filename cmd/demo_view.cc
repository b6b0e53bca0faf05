#include "cmd/demo_view.h"

#include <algorithm>
#include <cstdio>

namespace projd::cli {
namespace {

std::string Bar(std::int64_t done, std::int64_t total, int width) {
  const double f = total <= 0 ? 1.0 : std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  const int filled = static_cast<int>(f * width);
  return "[" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), '.') +
         "] " + std::to_string(static_cast<int>(f * 100)) + "%";
}

}  // namespace

std::string RenderDemoFrame(const pg::ReplicaSetStatus& s, const DemoFrame& frame) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "projd demo — replica set %s — %.1f s\n%s\n\n", s.replica_set.c_str(),
                frame.elapsed_s, frame.phase.c_str());
  out += line;
  std::snprintf(line, sizeof line, "generation %lld, %d partitions, latest event position %lld\n\n",
                static_cast<long long>(s.generation), s.partitions, static_cast<long long>(s.latest_position));
  out += line;
  out += "members              partitions  heartbeat\n";
  for (const auto& m : s.members) {
    std::snprintf(line, sizeof line, "  %-18s %10d  %6lld ms ago\n", m.worker_name.c_str(), m.partitions,
                  static_cast<long long>(m.heartbeat_age_ms));
    out += line;
  }
  if (!s.unassigned.empty()) {
    out += "  (" + std::to_string(s.unassigned.size()) + " partitions waiting for an owner)\n";
  }
  out += "\nprojection        position        lag    events/s  catch-up\n";
  for (const auto& p : s.projections) {
    const auto rate = frame.rates.count(p.name) ? frame.rates.at(p.name) : 0.0;
    std::snprintf(line, sizeof line, "  %-14s %10lld %10lld %11.0f  %s\n", p.name.c_str(),
                  static_cast<long long>(p.min_position), static_cast<long long>(p.lag_events), rate,
                  Bar(p.min_position, s.latest_position, 30).c_str());
    out += line;
  }
  return out;
}

std::string RenderDemoLine(const pg::ReplicaSetStatus& s, const DemoFrame& frame) {
  char line[256];
  std::snprintf(line, sizeof line, "[%6.1f s] generation %lld, %zu members |", frame.elapsed_s,
                static_cast<long long>(s.generation), s.members.size());
  std::string out = line;
  for (const auto& p : s.projections) {
    std::snprintf(line, sizeof line, " %s %lld/%lld", p.name.c_str(), static_cast<long long>(p.min_position),
                  static_cast<long long>(s.latest_position));
    out += line;
  }
  return out + " | " + frame.phase + "\n";
}

}  // namespace projd::cli
