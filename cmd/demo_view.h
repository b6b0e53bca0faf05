// The live view of `projd demo`: one frame of text from the replica set's status (members
// and owned partitions, per-projection position, lag, events/s and a catch-up bar).
#pragma once

#include <map>
#include <string>

#include "orchestrator/coordination/pg/replica_set_status.h"

namespace projd::cli {

struct DemoFrame {
  std::string phase;                     // what the demo is doing now
  double elapsed_s = 0;
  std::map<std::string, double> rates;   // projection -> events/s since the last frame
};

std::string RenderDemoFrame(const pg::ReplicaSetStatus& status, const DemoFrame& frame);
// One plain line for non-terminals (logs, CI).
std::string RenderDemoLine(const pg::ReplicaSetStatus& status, const DemoFrame& frame);

}  // namespace projd::cli
