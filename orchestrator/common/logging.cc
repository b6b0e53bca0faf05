#include "orchestrator/common/logging.h"

#include <cstdio>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "orchestrator/config/database_url.h"

namespace projd {
namespace {

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v";
constexpr const char* kJsonPattern = "{\"ts\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",\"logger\":\"%n\",%v}";

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

void Configure(spdlog::logger& logger, LogFormat format) {
  logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(
      format == LogFormat::kJson ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));
}

}  // namespace

Logger::Logger(std::string name, const std::string& level, LogFormat format) : format_(format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  logger_ = std::make_shared<spdlog::logger>(std::move(name), sink);
  logger_->set_level(spdlog::level::from_str(level));
  logger_->flush_on(spdlog::level::info);
  Configure(*logger_, format_);
}

Logger::Logger(std::shared_ptr<spdlog::logger> logger, LogFormat format)
    : logger_(std::move(logger)), format_(format) {
  Configure(*logger_, format_);
}

Logger Logger::Child(const std::string& name) const {
  auto child = std::make_shared<spdlog::logger>(name, logger_->sinks().begin(), logger_->sinks().end());
  child->set_level(logger_->level());
  child->flush_on(spdlog::level::info);
  Logger out(std::move(child), format_);
  out.database_url_ = database_url_;
  return out;
}

Logger Logger::WithDatabaseUrl(std::string database_url) const {
  Logger out = *this;
  out.database_url_ = std::move(database_url);
  return out;
}

std::string Logger::Render(LogFormat format, std::string_view message, const LogFields& fields,
                           std::string_view database_url) {
  auto mask = [database_url](std::string_view text) { return MaskSecrets(text, database_url); };
  std::string out;
  if (format == LogFormat::kJson) {
    out += "\"msg\":";
    AppendJsonString(out, mask(message));
    for (const auto& [k, v] : fields) {
      out.push_back(',');
      AppendJsonString(out, k);
      out.push_back(':');
      AppendJsonString(out, mask(v));
    }
    return out;
  }
  out = mask(message);
  for (const auto& [k, v] : fields) {
    const std::string masked = mask(v);
    out += " " + k + "=";
    if (NeedsQuotes(masked)) {
      AppendJsonString(out, masked);
    } else {
      out += masked;
    }
  }
  return out;
}

void Logger::Log(spdlog::level::level_enum level, std::string_view message, const LogFields& fields) const {
  if (!logger_->should_log(level)) return;
  logger_->log(level, "{}", Render(format_, message, fields, database_url_));
}

}  // namespace projd
