#include "orchestrator/runtime/worker_status.h"

#include "orchestrator/config/database_url.h"

namespace projd {

WorkerStatus MaskSecretsIn(WorkerStatus s, std::string_view database_url) {
  const auto mask = [&](std::string& text) { text = MaskSecrets(text, database_url); };
  mask(s.coordination.last_error);
  mask(s.persistence.last_error);
  for (auto& runner : s.runners) {
    mask(runner.last_error);
    for (auto& stopped : runner.stopped) mask(stopped.error);
  }
  if (s.mark.held_by) mask(s.mark.held_by->application_name);
  mask(s.versions.last_error);
  return s;
}

}  // namespace projd
