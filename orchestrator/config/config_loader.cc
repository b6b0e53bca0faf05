#include "orchestrator/config/config_loader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <string_view>

#include "orchestrator/config/database_url.h"
#include "orchestrator/config/duration.h"

namespace projd {
namespace {

constexpr int kMaxPartitions = 4096;
constexpr int kMaxBatchSize = 100'000;
constexpr int kMaxPending = 10'000'000;

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// EVENTS_READ_URL: URLs separated by whitespace, or by a comma that starts another URL (a
// multi-host URL has commas of its own: postgresql://u@h1:5432,h2:5432/db).
std::vector<std::string> SplitReadUrls(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) out.push_back(current);
    current.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const auto rest = std::string_view(text).substr(i + 1);
    if (std::isspace(static_cast<unsigned char>(ch)) ||
        (ch == ',' && (rest.rfind("postgresql://", 0) == 0 || rest.rfind("postgres://", 0) == 0))) {
      flush();
    } else {
      current.push_back(ch);
    }
  }
  flush();
  return out;
}

// One configuration variable: how to parse its text into the Config, how to print it.
struct Setting {
  const char* variable;
  // Returns an error message (without the "VAR=value: " prefix) or empty on success.
  std::function<std::string(const std::string&, Config&)> parse;
  std::function<std::string(const Config&)> print;
};

Setting DurationSetting(const char* variable, Duration Config::*field) {
  return {variable,
          [field](const std::string& text, Config& c) -> std::string {
            const auto d = ParseDuration(text);
            if (!d) return "not a duration (use 250ms, 5s, 1m30s, or an integer of milliseconds)";
            if (d->count() <= 0) return "must be positive";
            if (*d > kMaxDuration) return "must be at most " + FormatDuration(kMaxDuration);
            c.*field = *d;
            return "";
          },
          [field](const Config& c) { return FormatDuration(c.*field); }};
}

Setting IntSetting(const char* variable, int Config::*field, int max) {
  return {variable,
          [field, max](const std::string& text, Config& c) -> std::string {
            long long v = 0;
            const auto* end = text.data() + text.size();
            const auto [ptr, ec] = std::from_chars(text.data(), end, v);
            if (ec == std::errc::result_out_of_range) return "out of range";
            if (ec != std::errc() || ptr != end) return "not an integer";
            if (v <= 0) return "must be positive";
            if (v > max) return "must be at most " + std::to_string(max);
            c.*field = static_cast<int>(v);
            return "";
          },
          [field](const Config& c) { return std::to_string(c.*field); }};
}

Setting StringSetting(const char* variable, std::string Config::*field) {
  return {variable,
          [field](const std::string& text, Config& c) -> std::string {
            c.*field = text;
            return "";
          },
          [field](const Config& c) { return c.*field; }};
}

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings = {
      StringSetting("DATABASE_URL", &Config::database_url),
      StringSetting("DATABASE_URL_FILE", &Config::database_url_file),
      {"DATABASE_SCHEMA",
       [](const std::string& text, Config& c) -> std::string {
         if (!IsValidSchemaName(text)) return "not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63)";
         c.database_schema = text;
         return "";
       },
       [](const Config& c) { return c.database_schema; }},
      {"REPLICA_SET",
       [](const std::string& text, Config& c) -> std::string {
         if (text.empty()) return "must not be empty";
         if (text.size() > 200) return "longer than 200 characters";
         c.replica_set = text;
         return "";
       },
       [](const Config& c) { return c.replica_set; }},
      StringSetting("WORKER_NAME", &Config::worker_name),
      DurationSetting("HEARTBEAT_INTERVAL", &Config::heartbeat_interval),
      DurationSetting("STALE_WORKER_TIMEOUT", &Config::stale_worker_timeout),
      DurationSetting("COORDINATION_TIMEOUT", &Config::coordination_timeout),
      {"PARTITIONS",
       [](const std::string& text, Config& c) -> std::string {
         Config tmp;
         auto err = IntSetting("PARTITIONS", &Config::partitions, kMaxPartitions).parse(text, tmp);
         if (!err.empty()) return err;
         if ((tmp.partitions & (tmp.partitions - 1)) != 0) return "must be a power of two (1, 2, 4, ... 4096)";
         c.partitions = tmp.partitions;
         return "";
       },
       [](const Config& c) { return std::to_string(c.partitions); }},
      IntSetting("BATCH_SIZE", &Config::batch_size, kMaxBatchSize),
      DurationSetting("POLL_INTERVAL", &Config::poll_interval),
      DurationSetting("GAP_GRACE", &Config::gap_grace),
      {"PROJECTIONS",
       [](const std::string& text, Config& c) -> std::string {
         c.projections.clear();
         std::size_t start = 0;
         while (start <= text.size()) {
           auto comma = text.find(',', start);
           if (comma == std::string::npos) comma = text.size();
           auto name = Trim(text.substr(start, comma - start));
           if (!name.empty()) c.projections.push_back(name);
           start = comma + 1;
         }
         return "";
       },
       [](const Config& c) {
         std::string s;
         for (const auto& p : c.projections) s += (s.empty() ? "" : ",") + p;
         return s.empty() ? std::string("(all)") : s;
       }},
      {"VERSION_SWITCH",
       [](const std::string& text, Config& c) -> std::string {
         if (text == "auto") c.version_switch_auto = true;
         else if (text == "manual") c.version_switch_auto = false;
         else return "unknown mode (use auto or manual)";
         return "";
       },
       [](const Config& c) { return std::string(c.version_switch_auto ? "auto" : "manual"); }},
      {"VERSION_RETENTION",
       [](const std::string& text, Config& c) -> std::string {
         if (text == "0") {  // kept until `projd versions drop`
           c.version_retention = Duration{0};
           return "";
         }
         const auto d = ParseDuration(text);
         if (!d || d->count() <= 0) return "not a duration (use 0 for until dropped, or 30m, 24h, 168h)";
         c.version_retention = *d;
         return "";
       },
       [](const Config& c) {
         return c.version_retention.count() == 0 ? std::string("0") : FormatDuration(c.version_retention);
       }},
      {"EVENTS_READ_URL",
       [](const std::string& text, Config& c) -> std::string {
         c.events_read_urls = SplitReadUrls(text);
         for (const auto& url : c.events_read_urls) {
           if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
             return "each standby must be a postgresql:// URL (separate several by commas or spaces)";
           }
         }
         return "";
       },
       [](const Config& c) {
         std::string s;
         for (const auto& u : c.events_read_urls) s += (s.empty() ? "" : ",") + MaskDatabaseUrl(u);
         return s.empty() ? std::string("(the primary)") : s;
       }},
      DurationSetting("STANDBY_MAX_LAG", &Config::standby_max_lag),
      {"STANDBY_FALLBACK",
       [](const std::string& text, Config& c) -> std::string {
         if (text == "primary") c.standby_fallback_primary = true;
         else if (text == "wait") c.standby_fallback_primary = false;
         else return "unknown mode (use primary or wait)";
         return "";
       },
       [](const Config& c) { return std::string(c.standby_fallback_primary ? "primary" : "wait"); }},
      DurationSetting("PERSISTENCE_INTERVAL", &Config::persistence_interval),
      DurationSetting("PERSISTENCE_TIMEOUT", &Config::persistence_timeout),
      DurationSetting("FORCE_PERSISTENCE_TIMEOUT", &Config::force_persistence_timeout),
      DurationSetting("SHUTDOWN_TIMEOUT", &Config::shutdown_timeout),
      IntSetting("MAX_BATCH_SIZE", &Config::max_batch_size, kMaxBatchSize),
      IntSetting("MAX_PENDING", &Config::max_pending, kMaxPending),
      IntSetting("CIRCUIT_BREAKER_FAILURE_THRESHOLD", &Config::circuit_breaker_failure_threshold, 1000),
      DurationSetting("CIRCUIT_BREAKER_TIMEOUT", &Config::circuit_breaker_timeout),
      {"HTTP_ADDR",
       [](const std::string& text, Config& c) -> std::string {
         if (text == "off") {  // no HTTP endpoints
           c.http_addr = text;
           return "";
         }
         const auto colon = text.rfind(':');
         if (colon == std::string::npos) return "must be host:port (e.g. 0.0.0.0:9090) or off";
         int port = -1;
         const auto p = text.substr(colon + 1);
         const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
         if (ec != std::errc() || ptr != p.data() + p.size() || port < 0 || port > 65535) {
           return "port must be 0..65535";
         }
         c.http_addr = text;
         return "";
       },
       [](const Config& c) { return c.http_addr; }},
      {"LOG_LEVEL",
       [](const std::string& text, Config& c) -> std::string {
         static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
         std::string lower = text;
         std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
         if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return lower == l; })) {
           return "unknown level (use trace, debug, info, warn, error, critical or off)";
         }
         c.log_level = lower;
         return "";
       },
       [](const Config& c) { return c.log_level; }},
      {"LOG_FORMAT",
       [](const std::string& text, Config& c) -> std::string {
         if (text == "text") c.log_format = LogFormat::kText;
         else if (text == "json") c.log_format = LogFormat::kJson;
         else return "unknown format (use text or json)";
         return "";
       },
       [](const Config& c) { return std::string(c.log_format == LogFormat::kJson ? "json" : "text"); }},
  };
  return kSettings;
}

bool IsSet(const LoadedConfig& out, const std::string& variable) {
  const auto source = out.sources.at(variable);
  return source == SettingSource::kEnvironment || source == SettingSource::kFlag;
}

// Sets an unset `field` to `value` (marked derived when it differs from the default).
void Derive(LoadedConfig& out, const std::string& variable, Duration Config::*field, Duration value) {
  if (IsSet(out, variable)) return;
  value = std::max(value, Duration{1});
  if (out.config.*field != value) {
    out.config.*field = value;
    out.sources[variable] = SettingSource::kDerived;
  }
}

// See LoadConfig in config_loader.h. The rules these serve are in CheckCrossFieldRules.
void DeriveDefaults(LoadedConfig& out) {
  const Config defaults;
  Config& c = out.config;
  if (IsSet(out, "STALE_WORKER_TIMEOUT")) {
    Derive(out, "HEARTBEAT_INTERVAL", &Config::heartbeat_interval,
           std::min(defaults.heartbeat_interval, c.stale_worker_timeout / 3));
  }
  // PERSISTENCE_INTERVAL + PERSISTENCE_TIMEOUT <= STALE_WORKER_TIMEOUT / 2.
  const Duration budget = c.stale_worker_timeout / 2;
  const bool interval_set = IsSet(out, "PERSISTENCE_INTERVAL");
  const bool timeout_set = IsSet(out, "PERSISTENCE_TIMEOUT");
  Duration timeout = defaults.persistence_timeout;
  if (timeout_set) {
    timeout = c.persistence_timeout;
  } else {
    timeout = std::min({timeout, c.shutdown_timeout / 2, c.force_persistence_timeout / 2});
    if (interval_set) {
      // What the set interval leaves; nothing left keeps the default (the rule reports it).
      if (budget > c.persistence_interval) timeout = std::min(timeout, budget - c.persistence_interval);
    } else {
      timeout = std::min(timeout, budget / 3);
    }
    Derive(out, "PERSISTENCE_TIMEOUT", &Config::persistence_timeout, timeout);
  }
  if (!interval_set) {
    Duration interval = defaults.persistence_interval;
    if (!timeout_set) {
      interval = std::min(interval, budget / 3);
    } else if (budget > c.persistence_timeout) {
      interval = std::min(interval, budget - c.persistence_timeout);
    }
    Derive(out, "PERSISTENCE_INTERVAL", &Config::persistence_interval, interval);
  }
}

// DATABASE_URL_FILE: a mounted secret instead of the variable (which `ps` and
// `kubectl describe` would show when given as a flag or literal).
void ReadDatabaseUrlFile(LoadedConfig& out, const FileReader& read_file) {
  const std::string& path = out.config.database_url_file;
  if (!IsSet(out, "DATABASE_URL_FILE")) return;
  if (IsSet(out, "DATABASE_URL")) {
    out.problems.push_back({"DATABASE_URL_FILE",
                            "DATABASE_URL and DATABASE_URL_FILE are both set: give the database one way"});
    return;
  }
  std::string error = "no file reader";
  std::optional<std::string> text = read_file ? read_file(path, &error) : std::nullopt;
  if (!text) {
    out.problems.push_back({"DATABASE_URL_FILE", "DATABASE_URL_FILE=" + path + ": cannot read: " + error});
    return;
  }
  // A secret file usually ends with a newline (echo, kubectl create secret --from-file).
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  if (text->empty()) {
    out.problems.push_back({"DATABASE_URL_FILE", "DATABASE_URL_FILE=" + path + ": the file is empty"});
    return;
  }
  out.config.database_url = *std::move(text);
  out.sources["DATABASE_URL"] = SettingSource::kFile;
}

void CheckCrossFieldRules(LoadedConfig& out) {
  const Config& c = out.config;
  auto problem = [&](std::string msg) { out.problems.push_back({"", std::move(msg)}); };
  if (c.stale_worker_timeout <= c.heartbeat_interval) {
    problem("STALE_WORKER_TIMEOUT (" + FormatDuration(c.stale_worker_timeout) +
            ") must be greater than HEARTBEAT_INTERVAL (" + FormatDuration(c.heartbeat_interval) + ")");
  } else if (c.stale_worker_timeout < 3 * c.heartbeat_interval) {
    out.warnings.push_back("STALE_WORKER_TIMEOUT (" + FormatDuration(c.stale_worker_timeout) +
                           ") is less than 3 x HEARTBEAT_INTERVAL (" +
                           FormatDuration(c.heartbeat_interval) +
                           "): one slow heartbeat can get a healthy worker evicted");
  }
  if (c.persistence_timeout >= c.force_persistence_timeout) {
    problem("PERSISTENCE_TIMEOUT (" + FormatDuration(c.persistence_timeout) +
            ") must be less than FORCE_PERSISTENCE_TIMEOUT (" +
            FormatDuration(c.force_persistence_timeout) + ")");
  }
  if (c.persistence_timeout >= c.shutdown_timeout) {
    problem("PERSISTENCE_TIMEOUT (" + FormatDuration(c.persistence_timeout) +
            ") must be less than SHUTDOWN_TIMEOUT (" + FormatDuration(c.shutdown_timeout) + ")");
  }
  if ((c.persistence_interval + c.persistence_timeout) * 2 > c.stale_worker_timeout) {
    problem("PERSISTENCE_INTERVAL + PERSISTENCE_TIMEOUT (" +
            FormatDuration(c.persistence_interval + c.persistence_timeout) +
            ") must be at most STALE_WORKER_TIMEOUT / 2 (" +
            FormatDuration(c.stale_worker_timeout / 2) +
            "), so a checkpoint is durable before a silent worker is declared stale");
  }
}

}  // namespace

std::vector<std::string> ConfigVariables() {
  std::vector<std::string> names;
  for (const auto& s : Settings()) names.emplace_back(s.variable);
  return names;
}

std::string ConfigValueText(const Config& config, const std::string& variable) {
  for (const auto& s : Settings()) {
    if (variable == s.variable) {
      const auto v = s.print(config);
      return variable == "DATABASE_URL" ? MaskDatabaseUrl(v) : v;  // EVENTS_READ_URL masks its own
    }
  }
  return "";
}

LoadedConfig LoadConfig(const SettingMap& env, const SettingMap& flags, const FileReader& read_file) {
  LoadedConfig out;
  // WORKER_NAME defaults to POD_NAME, then the host name (passed in by cmd as HOSTNAME).
  for (const char* fallback : {"HOSTNAME", "POD_NAME"}) {
    if (auto it = env.find(fallback); it != env.end() && !it->second.empty()) {
      out.config.worker_name = it->second;
    }
  }
  for (const auto& s : Settings()) {
    const std::string name = s.variable;
    out.sources[name] = SettingSource::kDefault;
    const std::string* text = nullptr;
    if (auto it = env.find(name); it != env.end()) {
      text = &it->second;
      out.sources[name] = SettingSource::kEnvironment;
    }
    if (auto it = flags.find(name); it != flags.end()) {
      text = &it->second;
      out.sources[name] = SettingSource::kFlag;
    }
    if (text == nullptr) continue;
    const std::string value = name == "DATABASE_URL" ? *text : Trim(*text);
    const std::string err = s.parse(value, out.config);
    if (!err.empty()) {
      const std::string shown = name == "DATABASE_URL"      ? MaskDatabaseUrl(value)
                                : name == "EVENTS_READ_URL" ? MaskSecrets(value)
                                                            : value;
      out.problems.push_back({name, name + "=" + shown + ": " + err});
    }
  }
  ReadDatabaseUrlFile(out, read_file);
  if (out.problems.empty()) {
    DeriveDefaults(out);
    CheckCrossFieldRules(out);
  }
  return out;
}

}  // namespace projd
