// Logger: projd's structured logging on spdlog. Every line is a stable message plus
// key=value fields, rendered as text
//   2026-11-25T10:00:00.123Z info  [worker] generation formed generation=4 members=3
// or as one JSON object per line
//   {"ts":"2026-11-25T10:00:00.123Z","level":"info","logger":"worker","msg":"generation formed","generation":"4","members":"3"}
// Passwords in connection URLs or password=... never reach the output: the message and
// every field value are masked (MaskSecrets, database_url.h), and with WithDatabaseUrl
// also every occurrence of that URL's password, wherever it stands. Thread-safe (spdlog
// loggers are).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "orchestrator/config/config.h"

namespace projd {

using LogField = std::pair<std::string, std::string>;
using LogFields = std::vector<LogField>;

class Logger {
 public:
  // A logger named `name` writing to stderr with the given level (trace..off) and format.
  Logger(std::string name, const std::string& level, LogFormat format);
  // A logger over an existing spdlog logger (tests pass one with a capturing sink).
  Logger(std::shared_ptr<spdlog::logger> logger, LogFormat format);

  void Log(spdlog::level::level_enum level, std::string_view message, const LogFields& fields = {}) const;
  void Debug(std::string_view m, const LogFields& f = {}) const { Log(spdlog::level::debug, m, f); }
  void Info(std::string_view m, const LogFields& f = {}) const { Log(spdlog::level::info, m, f); }
  void Warn(std::string_view m, const LogFields& f = {}) const { Log(spdlog::level::warn, m, f); }
  void Error(std::string_view m, const LogFields& f = {}) const { Log(spdlog::level::err, m, f); }

  // A logger with another name sharing this one's sinks, level, format and known URL.
  Logger Child(const std::string& name) const;
  // This logger, masking in addition the password of `database_url` in any form.
  Logger WithDatabaseUrl(std::string database_url) const;
  const std::shared_ptr<spdlog::logger>& spd() const { return logger_; }

  // Renders one line's payload (after the time/level prefix); exposed for tests.
  // `database_url` (may be empty) is the URL whose password is masked as well.
  static std::string Render(LogFormat format, std::string_view message, const LogFields& fields,
                            std::string_view database_url = {});

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogFormat format_;
  std::string database_url_;
};

}  // namespace projd
