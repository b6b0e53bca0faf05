// Helpers for DATABASE_URL values: masking the password for logs and messages, and
// adding libpq connection parameters (search_path, application_name) to either form
// of connection string (URI "postgresql://..." or keyword "host=... dbname=...").
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace projd {

// Returns the URL with any password replaced by "****". Works for URIs
// (postgresql://user:secret@host/db, ?password=secret) and keyword strings
// (password=secret, password='a b'). Never throws.
std::string MaskDatabaseUrl(std::string_view url);

// Masks every password in free text: connection URIs anywhere in it
// ("... postgresql://u:secret@h/db ...") and password=... keywords. For log lines.
std::string MaskSecrets(std::string_view text);

// Returns the connection string with libpq parameter `key` set to `value`, keeping the
// form (URI or keyword) of `url`. The value is escaped for that form.
std::string WithConnectionParameter(std::string_view url, std::string_view key,
                                    std::string_view value);

// True when `name` is a plain SQL identifier projd accepts as DATABASE_SCHEMA:
// [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes.
bool IsValidSchemaName(std::string_view name);

}  // namespace projd
