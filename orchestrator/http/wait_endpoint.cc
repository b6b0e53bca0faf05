#include "orchestrator/http/wait_endpoint.h"

#include <charconv>
#include <map>

#include <nlohmann/json.hpp>

#include "orchestrator/config/duration.h"

namespace projd::http {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of one query component ('+' is a space); nullopt for a broken escape.
std::optional<std::string> Decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] != '%') {
      out.push_back(s[i]);
    } else {
      const int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> QueryOf(const std::string& target, std::string* error) {
  std::map<std::string, std::string> params;
  const auto q = target.find('?');
  if (q == std::string::npos) return params;
  std::size_t start = q + 1;
  while (start <= target.size()) {
    auto end = target.find('&', start);
    if (end == std::string::npos) end = target.size();
    const std::string pair = target.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      const auto name = Decode(pair.substr(0, eq));
      const auto value = Decode(eq == std::string::npos ? "" : pair.substr(eq + 1));
      if (!name || !value) {
        *error = "malformed percent-encoding in the query";
        return std::nullopt;
      }
      params[*name] = *value;
    }
    start = end + 1;
  }
  return params;
}

nlohmann::json BehindJson(const WaitProgress& progress) {
  nlohmann::json behind = nlohmann::json::array();
  for (const auto& p : progress.behind) {
    behind.push_back({{"partition", p.partition},
                      {"checkpoint", p.checkpoint ? nlohmann::json(*p.checkpoint) : nlohmann::json()},
                      {"owner", p.owner},
                      {"paused", p.paused},
                      {"state", p.state}});
  }
  return behind;
}

}  // namespace

std::optional<WaitQuery> ParseWaitQuery(const std::string& request_target, const std::string& replica_set,
                                        std::string* error) {
  const auto params = QueryOf(request_target, error);
  if (!params) return std::nullopt;
  WaitQuery query;
  query.target.replica_set = replica_set;
  const auto projection = params->find("projection");
  if (projection == params->end()) {
    *error = "projection: required (projection=NAME or NAME@N)";
    return std::nullopt;
  }
  std::string problem;
  if (!ValidWaitProjection(projection->second, &problem)) {
    *error = "projection: " + problem;
    return std::nullopt;
  }
  query.target.projection = projection->second;
  const auto position = params->find("position");
  if (position == params->end()) {
    *error = "position: required (an event's global_position)";
    return std::nullopt;
  }
  const auto& p = position->second;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), query.target.position);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || query.target.position < 0) {
    *error = "position: \"" + p + "\" is not a number >= 0";
    return std::nullopt;
  }
  if (const auto timeout = params->find("timeout"); timeout != params->end()) {
    const auto d = ParseDuration(timeout->second);
    if (!d || d->count() < 0 || *d > kMaxWaitTimeout) {
      *error = "timeout: \"" + timeout->second + "\" is not a duration from 0s to " + FormatDuration(kMaxWaitTimeout);
      return std::nullopt;
    }
    query.timeout = *d;
  }
  return query;
}

HttpResponse WaitAnswer(const WaitQuery& query, const WaitResult& result) {
  nlohmann::json body = {{"projection", query.target.projection},
                         {"position", query.target.position},
                         {"replica_set", query.target.replica_set}};
  if (!result.progress.lane.empty()) body["lane"] = result.progress.lane;
  switch (result.kind) {
    case WaitResult::Kind::kProcessed:
      body["processed"] = true;
      return {200, kJson, body.dump(2) + "\n"};
    case WaitResult::Kind::kTimedOut:
      body["processed"] = false;
      body["timeout"] = FormatDuration(query.timeout);
      body["behind"] = BehindJson(result.progress);
      body["message"] = DescribeBehind(query.target, result.progress);
      if (!result.error.empty()) body["error"] = result.error;
      return {504, kJson, body.dump(2) + "\n"};
    case WaitResult::Kind::kStopped:
      body["processed"] = false;
      body["error"] = "the worker is stopping";
      return {503, kJson, body.dump(2) + "\n"};
    case WaitResult::Kind::kFailed:
      break;
  }
  body["processed"] = false;
  body["error"] = result.error;
  return {500, kJson, body.dump(2) + "\n"};
}

HttpResponse HandleWait(const HttpRequest& request, WaitService& waits, const std::string& replica_set) {
  std::string error;
  const auto query = ParseWaitQuery(request.target, replica_set, &error);
  if (!query) return {400, kText, "bad request: " + error + "\n"};
  HttpResponse later;
  later.later = [&waits, q = *query](Respond respond) {
    const bool queued = waits.Submit(q.target, q.timeout, [q, respond](const WaitResult& r) { respond(WaitAnswer(q, r)); });
    if (!queued) {
      respond({503, kText, "too many pending waits on this worker (or it is stopping); retry\n", {{"Retry-After", "1"}}});
    }
  };
  return later;
}

}  // namespace projd::http
