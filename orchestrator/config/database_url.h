// Helpers for DATABASE_URL values: masking passwords in every text that leaves the
// process, and reading or setting libpq connection parameters in either form of
// connection string (URI "postgresql://..." or keyword "host=... dbname=...").
//
// Masking understands every form libpq accepts: URIs whose password holds any character
// (`?`, `#`, `:`, quotes, spaces, a raw `@` or `/`), percent-escapes valid or not,
// multi-host URIs (postgresql://u:p@h1:5432,h2:5433/db), `password=` in the URI query,
// and keyword strings with or without quotes (password='a b\'c'). Pure functions;
// thread-safe; none throws except on allocation failure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace projd {

inline constexpr std::string_view kMaskedPassword = "****";

// Returns the connection string with every password replaced by "****", keeping its form.
std::string MaskDatabaseUrl(std::string_view url);

// Masks every password in free text: connection URIs anywhere in it
// ("... postgresql://u:secret@h/db ...", also inside quotes) and password=... keywords.
// For log lines and error messages whose origin is unknown.
std::string MaskSecrets(std::string_view text);

// MaskSecrets(text), and in addition every occurrence of the password(s) that
// `database_url` carries, as written and percent-decoded (libpq echoes a bad
// percent-escape token verbatim: `invalid percent-encoded token: "Sup3r%zzSecret"`).
// Passwords shorter than 3 characters are only masked where a pattern finds them, so a
// one-letter password does not garble every message.
std::string MaskSecrets(std::string_view text, std::string_view database_url);

// The passwords `database_url` carries, as written (raw text of the URL) and decoded.
// Lenient: an unparsable URL still yields what looks like its password. For masking.
std::vector<std::string> PasswordsIn(std::string_view database_url);

// The value of libpq parameter `key` in `url` (percent-decoded for URIs, unquoted for
// keyword strings), or nullopt when absent. The last occurrence wins, as in libpq.
std::optional<std::string> ConnectionParameter(std::string_view url, std::string_view key);

// Returns the connection string with libpq parameter `key` set to `value`, keeping the
// form (URI or keyword) of `url`; an existing `key` is removed first. The value is
// escaped for that form.
std::string WithConnectionParameter(std::string_view url, std::string_view key,
                                    std::string_view value);

// True when the libpq `options` value (server command-line switches, as in options= of a
// URL) sets server setting `name`: `-c name=value`, `-cname=value` or `--name=value`, with
// libpq's backslash escapes, `-` read as `_` and case ignored, as the server reads them.
bool SetsServerSetting(std::string_view libpq_options, std::string_view name);

// The hosts and ports of a postgresql:// URL as "host:port" (port 5432 when absent; a
// multi-host URL keeps its list, "h1:5432,h2:5433"), for naming a server in status and
// metrics without its credentials. "" when `url` is not a URL.
std::string UrlHostPort(std::string_view url);

// True when `name` is a plain SQL identifier projd accepts as DATABASE_SCHEMA:
// [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes.
bool IsValidSchemaName(std::string_view name);

}  // namespace projd
