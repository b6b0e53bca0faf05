#include "orchestrator/runtime/shutdown.h"

#include <algorithm>

namespace projd {
namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out.empty() ? "none" : out;
}

}  // namespace

ShutdownPlan PlanShutdown(Clock::Monotonic::time_point signalled, std::chrono::milliseconds shutdown_timeout,
                          std::chrono::milliseconds persistence_timeout) {
  using std::chrono::milliseconds;
  const milliseconds total = std::max(shutdown_timeout, milliseconds(0));
  const milliseconds leave = std::min(milliseconds(1000), total / 10);
  const milliseconds drain = std::clamp(persistence_timeout, milliseconds(0), (total - leave) / 2);
  ShutdownPlan plan;
  plan.deadline = signalled + total;
  plan.drain_by = plan.deadline - leave;
  plan.stop_by = plan.drain_by - drain;
  return plan;
}

std::string ToString(ShutdownStep step) {
  switch (step) {
    case ShutdownStep::kRunning: return "running";
    case ShutdownStep::kStopping: return "stopping threads";
    case ShutdownStep::kDraining: return "draining";
    case ShutdownStep::kLeaving: return "deregistering";
    case ShutdownStep::kStopped: return "stopped";
  }
  return "unknown";
}

int ExitCodeOf(const ShutdownState& state) {
  return state.drained && state.deregistered ? 0 : kExitStopIncomplete;
}

std::vector<std::string> UnfinishedSteps(ShutdownStep step) {
  std::vector<std::string> out;
  if (step <= ShutdownStep::kStopping) out.push_back("stop threads");
  if (step <= ShutdownStep::kDraining) out.push_back("drain");
  if (step <= ShutdownStep::kLeaving) out.push_back("deregister");
  return out;
}

LogFields DescribeShutdown(const ShutdownState& state) {
  return {{"step", ToString(state.step)},
          {"unfinished", Join(UnfinishedSteps(state.step))},
          {"abandoned", Join(state.abandoned)},
          {"drained", state.drained ? "true" : "false"},
          {"unflushed", std::to_string(state.unflushed)},
          {"deregistered", state.deregistered ? "true" : "false"}};
}

}  // namespace projd
