#include "orchestrator/pg/connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/except>

#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"

namespace projd::pg {
namespace {

enum class QuotedParts {
  kKeepOnlyKeywords,       // a refused connection string: anything quoted may be a secret
  kMaskPasswordPieces,     // a failed connect: host names stay, pieces of the password not
};

// libpq's conninfo errors quote what they refuse, and that may be the password
// (`invalid percent-encoded token: "Sup3r%zzSecret"`), a piece of it (`password=a b`
// unquoted makes libpq complain about a keyword "b"), or the whole URL. With
// kKeepOnlyKeywords a quoted part survives only when it is a libpq keyword; with
// kMaskPasswordPieces only when it is no part of a password of `url`.
std::string RedactQuoted(std::string_view message, std::string_view url, QuotedParts mode) {
  static const std::vector<std::string> kKeywords = [] {
    std::vector<std::string> names;
    if (PQconninfoOption* defaults = PQconndefaults()) {
      for (auto* o = defaults; o->keyword != nullptr; ++o) names.emplace_back(o->keyword);
      PQconninfoFree(defaults);
    }
    return names;
  }();
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    const auto open = message.find('"', i);
    const auto close = open == std::string_view::npos ? open : message.find('"', open + 1);
    if (close == std::string_view::npos) break;
    const auto quoted = message.substr(open + 1, close - open - 1);
    out.append(message.substr(i, open + 1 - i));
    bool keep = false;
    if (mode == QuotedParts::kKeepOnlyKeywords) {
      keep = quoted == "=" || std::find(kKeywords.begin(), kKeywords.end(), quoted) != kKeywords.end();
    } else {
      const auto passwords = PasswordsIn(url);
      keep = std::none_of(passwords.begin(), passwords.end(), [&](const std::string& p) {
        return !quoted.empty() && p.find(quoted) != std::string::npos;
      });
    }
    out.append(keep ? quoted : kMaskedPassword);
    out.push_back('"');
    i = close + 1;
  }
  out.append(message.substr(std::min(i, message.size())));
  return out;
}

// A libpq message about connecting to `url`, without its password in any form.
std::string Sanitized(std::string_view message, std::string_view url) {
  return RedactQuoted(MaskSecrets(message, url), url, QuotedParts::kMaskPasswordPieces);
}

// Throws PermanentError when libpq cannot parse the connection string, with libpq's
// reason and nothing of the string itself.
void CheckParses(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed != nullptr) {
    PQconninfoFree(parsed);
    return;
  }
  std::string reason = error != nullptr ? error : "out of memory";
  PQfreemem(error);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  throw PermanentError("DATABASE_URL is not a valid libpq connection string (" +
                       RedactQuoted(MaskSecrets(reason, url), url, QuotedParts::kKeepOnlyKeywords) + ")");
}

}  // namespace

std::string ServerOptions(const ConnectionOptions& options) {
  // The user's own options= (e.g. -c statement_timeout=5s) come first; projd's follow,
  // so the later -c search_path of DATABASE_SCHEMA wins over one in the URL.
  std::string server_options = ConnectionParameter(options.url, "options").value_or("");
  if (!server_options.empty()) server_options += " ";
  server_options += "-c search_path=";
  if (!options.read_model_schema.empty()) server_options += "\"" + options.read_model_schema + "\",";
  server_options += "\"" + options.schema + "\"";
  for (const auto& [name, value] : options.settings) server_options += " -c " + name + "=" + value;
  // A statement_timeout of the user's (in options=) is theirs to choose.
  const auto user_options = ConnectionParameter(options.url, "options").value_or("");
  if (options.timeouts.statement.count() > 0 && !SetsServerSetting(user_options, "statement_timeout")) {
    server_options += " -c statement_timeout=" + std::to_string(options.timeouts.statement.count());
  }
  return server_options;
}

std::string ConnInfo(const ConnectionOptions& options) {
  std::string conninfo = WithConnectionParameter(options.url, "options", ServerOptions(options));
  conninfo = WithConnectionParameter(conninfo, "application_name", options.application_name);
  for (const auto& [name, value] : options.timeouts.LibpqParameters()) {
    if (!ConnectionParameter(options.url, name)) conninfo = WithConnectionParameter(conninfo, name, value);
  }
  return conninfo;
}

std::unique_ptr<pqxx::connection> Connect(const ConnectionOptions& options) {
  if (options.url.empty()) {
    throw PermanentError("DATABASE_URL is not set");
  }
  if (!IsValidSchemaName(options.schema)) {
    throw PermanentError("DATABASE_SCHEMA '" + options.schema + "' is not a plain identifier");
  }
  CheckParses(options.url);
  const std::string conninfo = ConnInfo(options);
  const std::string shown = MaskDatabaseUrl(options.url);
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const pqxx::broken_connection& e) {
    // libpq may echo parts of the conninfo; never let a password through.
    throw TransientError("cannot connect to " + shown + ": " + Sanitized(e.what(), options.url));
  } catch (const std::exception& e) {
    throw PermanentError("cannot connect to " + shown + ": " + Sanitized(e.what(), options.url));
  }
}

}  // namespace projd::pg
