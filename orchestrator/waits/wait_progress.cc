#include "orchestrator/waits/wait_progress.h"

#include <sstream>

namespace projd {

std::optional<std::string> ValidWaitProjection(const std::string& text, std::string* error) {
  const auto at = text.find('@');
  const std::string name = text.substr(0, at);
  if (name.empty()) {
    *error = "a projection name is required (NAME or NAME@N)";
    return std::nullopt;
  }
  if (at != std::string::npos) {
    const std::string version = text.substr(at + 1);
    const bool digits = !version.empty() && version.size() <= 9 &&
                        version.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(version) < 1) {
      *error = "\"" + text + "\" is not NAME or NAME@N with a version N >= 1";
      return std::nullopt;
    }
  }
  return text;
}

std::string DescribeBehind(const WaitTarget& target, const WaitProgress& progress) {
  std::ostringstream out;
  if (progress.replica_set.empty()) {
    out << "no replica set has projection " << target.projection << " yet (no checkpoints, no versions)\n";
    return out.str();
  }
  if (!progress.replica_set_known) {
    out << "replica set " << progress.replica_set << " is not registered (no worker has started in it)\n";
    return out.str();
  }
  bool any_paused = false;
  for (const auto& p : progress.behind) {
    out << "partition " << p.partition << ": ";
    if (p.checkpoint) {
      out << "checkpoint " << *p.checkpoint;
    } else {
      out << "no checkpoint yet";
    }
    out << " (" << (p.owner.empty() ? "unassigned" : "owner " + p.owner);
    if (!p.state.empty()) out << ", state " << p.state;
    out << (p.paused ? ", paused" : "") << ")\n";
    any_paused = any_paused || p.paused;
  }
  if (any_paused) {
    out << "paused partitions do not advance until `projd projections resume " << target.projection << "`\n";
  }
  return out.str();
}

}  // namespace projd
