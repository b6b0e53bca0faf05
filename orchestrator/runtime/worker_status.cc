#include "orchestrator/runtime/worker_status.h"

#include "orchestrator/config/database_url.h"

namespace projd {

WorkerStatus MaskSecretsIn(WorkerStatus s, std::string_view database_url, const std::vector<std::string>& read_urls) {
  const auto mask = [&](std::string& text) {
    text = MaskSecrets(text, database_url);
    for (const auto& url : read_urls) text = MaskSecrets(text, url);
  };
  mask(s.coordination.last_error);
  mask(s.persistence.last_error);
  for (auto& runner : s.runners) {
    mask(runner.last_error);
    for (auto& stopped : runner.stopped) mask(stopped.error);
  }
  if (s.mark.held_by) mask(s.mark.held_by->application_name);
  mask(s.versions.last_error);
  if (s.control) mask(s.control->last_error);
  if (s.standby_reads) {
    for (auto& standby : s.standby_reads->standbys) mask(standby.last_error);
  }
  return s;
}

}  // namespace projd
