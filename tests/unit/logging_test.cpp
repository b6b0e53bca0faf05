#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <sstream>
#include <vector>

#include "orchestrator/common/logging.h"

namespace {
std::string Capture(projd::LogFormat format, const std::string& msg, const projd::LogFields& fields) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto spd = std::make_shared<spdlog::logger>("test", sink);
  projd::Logger logger(spd, format);
  logger.Info(msg, fields);
  return out.str();
}
}  // namespace

TEST_CASE("text log lines carry a stable message and key=value fields", "[logging]") {
  const auto line = Capture(projd::LogFormat::kText, "generation formed",
                            {{"generation", "4"}, {"reason", "worker joined"}});
  CHECK_THAT(line, Catch::Contains("info  [test] generation formed generation=4 reason=\"worker joined\""));
}

TEST_CASE("JSON log lines are one valid object with the fields", "[logging]") {
  const auto line = Capture(projd::LogFormat::kJson, "a \"quoted\" message", {{"k", "v\n2"}});
  const auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "info");
  CHECK(j["logger"] == "test");
  CHECK(j["msg"] == "a \"quoted\" message");
  CHECK(j["k"] == "v\n2");
  CHECK(j["ts"].get<std::string>().back() == 'Z');
}

TEST_CASE("a database password never reaches a log line", "[logging]") {
  for (auto format : {projd::LogFormat::kText, projd::LogFormat::kJson}) {
    const auto line = Capture(format, "cannot connect to postgresql://app:hunter2@db:5432/x: refused",
                              {{"url", "postgres://app:hunter2@db/x"}, {"conninfo", "host=db password=hunter2"}});
    INFO(line);
    CHECK(line.find("hunter2") == std::string::npos);
    CHECK(line.find("****") != std::string::npos);
  }
}

TEST_CASE("a logger that knows the database URL masks its password in any form", "[logging]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // URL, the password as it may show up in a message
      {"postgresql://projd:Sup3r?Secret@db/app?sslmode=disable", "Sup3r?Secret"},
      {"postgresql://projd:Sup3r%zzSecret@db/app", "Sup3r%zzSecret"},
      {"postgresql://projd:p%40ss%23word@h1,h2/app", "p@ss#word"},
      {"host=db password='it\\'s a \"secret\"' dbname=app", "it's a \"secret\""},
      {"postgresql://db/app?password=qu%3Fery", "qu?ery"},
  };
  for (const auto& [url, password] : cases) {
    for (auto format : {projd::LogFormat::kText, projd::LogFormat::kJson}) {
      std::ostringstream out;
      auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
      const auto logger = projd::Logger(std::make_shared<spdlog::logger>("test", sink), format)
                              .WithDatabaseUrl(url)
                              .Child("worker");
      logger.Warn("libpq said: \"" + password + "\" and " + url, {{"error", "token " + password}});
      INFO(out.str());
      CHECK(out.str().find(password) == std::string::npos);
      CHECK(out.str().find("****") != std::string::npos);
    }
  }
}
