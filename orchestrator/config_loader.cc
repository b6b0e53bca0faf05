// Minimal first slice; the full parser and validation rules are in progress.
#include "orchestrator/config_loader.h"

namespace projd {

LoadedConfig LoadConfig(const SettingMap& env, const SettingMap& flags) {
  LoadedConfig out;
  auto pick = [&](const std::string& name, std::string& target) {
    out.sources[name] = SettingSource::kDefault;
    if (auto it = env.find(name); it != env.end()) {
      target = it->second;
      out.sources[name] = SettingSource::kEnvironment;
    }
    if (auto it = flags.find(name); it != flags.end()) {
      target = it->second;
      out.sources[name] = SettingSource::kFlag;
    }
  };
  pick("DATABASE_URL", out.config.database_url);
  pick("DATABASE_SCHEMA", out.config.database_schema);
  pick("REPLICA_SET", out.config.replica_set);
  return out;
}

}  // namespace projd
