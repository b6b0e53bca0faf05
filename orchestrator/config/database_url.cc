#include "orchestrator/config/database_url.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace projd {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};
constexpr std::size_t kMinKnownPasswordLength = 3;

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// libpq's secret parameters: the password and the passphrase of the client key.
bool IsPasswordKey(std::string_view key) { return key == "password" || key == "sslpassword"; }

// True when "password" at `pos` of `s` starts a keyword: at a word start, or as the tail
// of "sslpassword".
bool PasswordKeyAt(std::string_view s, std::size_t pos) {
  if (pos == 0 || !IsWordChar(s[pos - 1])) return true;
  if (pos < 3) return false;
  const auto prefix = s.substr(pos - 3, 3);
  const bool ssl = (prefix[0] | 0x20) == 's' && (prefix[1] | 0x20) == 's' && (prefix[2] | 0x20) == 'l';
  return ssl && (pos == 3 || !IsWordChar(s[pos - 4]));
}

bool IsUri(std::string_view url) {
  return std::any_of(std::begin(kSchemes), std::end(kSchemes),
                     [&](std::string_view s) { return url.starts_with(s); });
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lenient: an invalid escape ("%zz") stays as written (libpq refuses it; we only mask).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Where the parts of a URI are, as libpq reads it (fe-connect.c, conninfo_uri_parse_options):
// the user info ends at the first '@'; its password starts at the first ':'. Masking is
// more generous than libpq where libpq would fail anyway: a raw '@' in the password
// (the user info then ends at the last '@' before the query), a raw '/' in it.
struct UriLayout {
  std::size_t authority = 0;                       // first character after "://"
  std::size_t password_begin = std::string_view::npos;  // after the ':' of user:password
  std::size_t password_end = std::string_view::npos;    // the '@' ending the user info
  std::size_t query = std::string_view::npos;           // the '?' starting the query
};

UriLayout LayOut(std::string_view uri) {
  UriLayout l;
  l.authority = uri.find("://") + 3;
  const auto first_at = uri.find('@', l.authority);
  std::size_t host_begin = l.authority;
  if (first_at != std::string_view::npos) {
    const auto before = uri.substr(l.authority, first_at - l.authority);
    const auto slash = before.find('/');
    // "host:5432/db?application_name=a@b" has no user info: a path, then a query.
    const bool looks_like_path_and_query =
        slash != std::string_view::npos && before.find('?', slash) != std::string_view::npos;
    if (!looks_like_path_and_query) {
      auto query_after_at = uri.find('?', first_at);
      if (query_after_at == std::string_view::npos) query_after_at = uri.size();
      const auto last_at = uri.rfind('@', query_after_at - 1);
      const auto colon = uri.find(':', l.authority);
      if (colon < first_at) {
        l.password_begin = colon + 1;
        l.password_end = last_at;
      }
      host_begin = last_at + 1;
    }
  }
  l.query = uri.find('?', host_begin);
  return l;
}

struct QueryParameter {
  std::size_t begin;  // of "key=value"
  std::size_t end;    // one past the value
  std::string_view key;
  std::size_t value_begin;
};

std::vector<QueryParameter> QueryParameters(std::string_view uri, const UriLayout& l) {
  std::vector<QueryParameter> out;
  if (l.query == std::string_view::npos) return out;
  std::size_t pos = l.query + 1;
  while (pos < uri.size()) {
    auto end = uri.find('&', pos);
    if (end == std::string_view::npos) end = uri.size();
    const auto item = uri.substr(pos, end - pos);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos) out.push_back({pos, end, item.substr(0, eq), pos + eq + 1});
    pos = end + 1;
  }
  return out;
}

std::string MaskUri(std::string_view uri) {
  const UriLayout l = LayOut(uri);
  std::string out;
  std::size_t copied = 0;
  if (l.password_begin != std::string_view::npos) {
    out.append(uri.substr(0, l.password_begin));
    out.append(kMaskedPassword);
    copied = l.password_end;
  }
  for (const auto& p : QueryParameters(uri, l)) {
    if (!IsPasswordKey(p.key) || p.value_begin < copied) continue;
    out.append(uri.substr(copied, p.value_begin - copied));
    out.append(kMaskedPassword);
    copied = p.end;
  }
  out.append(uri.substr(copied));
  return out;
}

// One keyword=value of a libpq keyword string (fe-connect.c, conninfo_parse).
struct Keyword {
  std::size_t begin;        // of the keyword
  std::size_t value_begin;  // first character of the value as written (a quote, if quoted)
  std::size_t end;          // one past the value as written
  std::string key;
  std::string value;        // unquoted, unescaped
};

// Parses a keyword string as libpq does; stops at the first malformed part (what came
// before is returned).
std::vector<Keyword> Keywords(std::string_view s) {
  std::vector<Keyword> out;
  std::size_t i = 0;
  while (true) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size()) break;
    Keyword k;
    k.begin = i;
    while (i < s.size() && !IsSpace(s[i]) && s[i] != '=') k.key.push_back(s[i++]);
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') break;
    ++i;
    while (i < s.size() && IsSpace(s[i])) ++i;
    k.value_begin = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        k.value.push_back(s[i++]);
      }
      if (i >= s.size()) {  // unterminated: libpq refuses; treat the rest as the value
        k.end = s.size();
        out.push_back(std::move(k));
        break;
      }
      ++i;
    } else {
      while (i < s.size() && !IsSpace(s[i])) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        k.value.push_back(s[i++]);
      }
    }
    k.end = i;
    out.push_back(std::move(k));
  }
  return out;
}

// Masks `password = value` anywhere in free text (also inside prose and libpq messages):
// the keyword at a word start, case-insensitive; the value quoted or up to whitespace.
std::string MaskKeywords(std::string_view text) {
  static constexpr std::string_view kKey = "password";
  std::string out;
  std::size_t i = 0;
  std::size_t search = 0;
  while (true) {
    auto it = std::search(text.begin() + search, text.end(), kKey.begin(), kKey.end(),
                          [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    if (it == text.end()) break;
    const std::size_t key_pos = static_cast<std::size_t>(it - text.begin());
    std::size_t j = key_pos + kKey.size();
    search = j;
    if (!PasswordKeyAt(text, key_pos)) continue;
    while (j < text.size() && IsSpace(text[j])) ++j;
    if (j >= text.size() || text[j] != '=') continue;
    ++j;
    while (j < text.size() && IsSpace(text[j])) ++j;
    out.append(text.substr(i, j - i));
    out.append(kMaskedPassword);
    if (j < text.size() && text[j] == '\'') {
      ++j;
      while (j < text.size() && text[j] != '\'') j += (text[j] == '\\' ? 2 : 1);
      j = std::min(j + 1, text.size());
    } else {
      // A value ends at whitespace, or where a URI query parameter ends.
      while (j < text.size() && !IsSpace(text[j]) && text[j] != '&') {
        j += (text[j] == '\\' ? 2 : 1);
      }
      j = std::min(j, text.size());
    }
    i = j;
    search = j;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

// The values of `password=` in a keyword string, read generously: a quoted value to its
// closing quote; an unquoted one up to the next "keyword=" (libpq reads unquoted
// "password=a b" as password "a" and a keyword "b", which it then names in its error, so
// "a b" counts as the password). Half-open [begin, end) spans into `s`.
std::vector<std::pair<std::size_t, std::size_t>> LenientPasswordSpans(std::string_view s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t pos = s.find("password"); pos != std::string_view::npos;
       pos = s.find("password", pos + 1)) {
    if (!PasswordKeyAt(s, pos)) continue;
    auto j = pos + 8;
    while (j < s.size() && IsSpace(s[j])) ++j;
    if (j >= s.size() || s[j] != '=') continue;
    ++j;
    while (j < s.size() && IsSpace(s[j])) ++j;
    std::size_t end = s.size();
    if (j < s.size() && s[j] == '\'') {
      std::size_t k = j + 1;
      while (k < s.size() && s[k] != '\'') k += (s[k] == '\\' ? 2 : 1);
      end = std::min(k + 1, s.size());
    } else {
      for (std::size_t k = j + 1; k < s.size(); ++k) {
        if (!IsSpace(s[k - 1]) || !IsWordChar(s[k])) continue;
        std::size_t e = k;
        while (e < s.size() && IsWordChar(s[e])) ++e;
        while (e < s.size() && IsSpace(s[e])) ++e;
        if (e < s.size() && s[e] == '=') {
          end = k;
          break;
        }
      }
      while (end > j && IsSpace(s[end - 1])) --end;
    }
    out.emplace_back(j, end);
  }
  return out;
}

// Masks a whole keyword connection string (not free text): see LenientPasswordSpans.
std::string MaskKeywordString(std::string_view s) {
  std::string out;
  std::size_t copied = 0;
  for (const auto& [begin, end] : LenientPasswordSpans(s)) {
    if (begin < copied) continue;
    out.append(s.substr(copied, begin - copied));
    out.append(kMaskedPassword);
    copied = end;
  }
  out.append(s.substr(copied));
  return out;
}

std::size_t FindScheme(std::string_view text, std::size_t from) {
  std::size_t best = std::string_view::npos;
  for (auto s : kSchemes) best = std::min(best, text.find(s, from));
  return best;
}

// Where a URI written in free text ends. It normally ends at whitespace or a quote, but
// a password may contain both ("postgresql://u:my pass@h/db", as libpq echoes a refused
// URI): when the URI so far has user:... but no '@', it runs to the next '@' on the same
// line (unless another URI starts first). Errs towards masking more.
std::size_t UriEnd(std::string_view text, std::size_t start) {
  auto stop = [](char c) { return IsSpace(c) || c == '"' || c == '\''; };
  std::size_t end = start;
  while (end < text.size() && !stop(text[end])) ++end;
  const auto token = text.substr(start, end - start);
  const auto authority = token.find("://") + 3;
  const bool has_colon = token.find(':', authority) != std::string_view::npos;
  const bool has_at = token.find('@', authority) != std::string_view::npos;
  if (has_colon && !has_at) {
    const auto line_end = std::min(text.find('\n', end), text.size());
    const auto at = text.find('@', end);
    if (at != std::string_view::npos && at < line_end && FindScheme(text, end) > at) {
      end = at;
      while (end < text.size() && !stop(text[end])) ++end;
    }
  }
  return end;
}

void ReplaceAll(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  std::size_t pos = 0;
  while ((pos = text.find(what, pos)) != std::string::npos) {
    text.replace(pos, what.size(), with);
    pos += with.size();
  }
}

}  // namespace

std::string MaskDatabaseUrl(std::string_view url) {
  return IsUri(url) ? MaskUri(url) : MaskKeywordString(url);
}

std::string MaskSecrets(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto start = FindScheme(text, i);
    if (start == std::string_view::npos) break;
    out += MaskKeywords(text.substr(i, start - i));
    const auto end = UriEnd(text, start);
    out += MaskUri(text.substr(start, end - start));
    i = end;
  }
  if (i < text.size()) out += MaskKeywords(text.substr(i));
  return out;
}

std::vector<std::string> PasswordsIn(std::string_view url) {
  std::vector<std::string> out;
  auto add = [&out](std::string_view p) {
    if (!p.empty() && std::find(out.begin(), out.end(), p) == out.end()) out.emplace_back(p);
  };
  if (IsUri(url)) {
    const UriLayout l = LayOut(url);
    if (l.password_begin != std::string_view::npos) {
      const auto raw = url.substr(l.password_begin, l.password_end - l.password_begin);
      add(raw);
      add(PercentDecode(raw));
    }
    for (const auto& p : QueryParameters(url, l)) {
      if (!IsPasswordKey(p.key)) continue;
      const auto raw = url.substr(p.value_begin, p.end - p.value_begin);
      add(raw);
      add(PercentDecode(raw));
    }
    return out;
  }
  for (const auto& k : Keywords(url)) {
    if (!IsPasswordKey(k.key)) continue;
    add(k.value);
    add(url.substr(k.value_begin, k.end - k.value_begin));
  }
  for (const auto& span : LenientPasswordSpans(url)) {
    auto candidate = url.substr(span.first, span.second - span.first);
    add(candidate);
    // Its whitespace-separated pieces, as libpq would name them.
    std::size_t b = 0;
    while (b < candidate.size()) {
      auto e = candidate.find_first_of(" \t\n\r", b);
      if (e == std::string_view::npos) e = candidate.size();
      if (e > b) add(candidate.substr(b, e - b));
      b = e + 1;
    }
  }
  return out;
}

std::string MaskSecrets(std::string_view text, std::string_view database_url) {
  auto passwords = PasswordsIn(database_url);
  // Longest first, so a password's piece does not break the masking of the whole.
  std::sort(passwords.begin(), passwords.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string out(text);
  for (const auto& p : passwords) {
    if (p.size() >= kMinKnownPasswordLength && p != kMaskedPassword) ReplaceAll(out, p, kMaskedPassword);
  }
  return MaskSecrets(out);
}

std::optional<std::string> ConnectionParameter(std::string_view url, std::string_view key) {
  std::optional<std::string> value;
  if (IsUri(url)) {
    for (const auto& p : QueryParameters(url, LayOut(url))) {
      if (p.key == key) value = PercentDecode(url.substr(p.value_begin, p.end - p.value_begin));
    }
    return value;
  }
  for (const auto& k : Keywords(url)) {
    if (k.key == key) value = k.value;
  }
  return value;
}

std::string WithConnectionParameter(std::string_view url, std::string_view key,
                                    std::string_view value) {
  std::string out;
  if (IsUri(url)) {
    const UriLayout l = LayOut(url);
    bool has_query = false;
    if (l.query == std::string_view::npos) {
      out = url;
    } else {
      out = url.substr(0, l.query);
      std::string query;
      std::size_t pos = l.query + 1;
      // Keep every item (also ones without '=') except `key=...`.
      while (pos <= url.size()) {
        auto end = url.find('&', pos);
        if (end == std::string_view::npos) end = url.size();
        const auto item = url.substr(pos, end - pos);
        const auto eq = item.find('=');
        const bool drop = eq != std::string_view::npos && item.substr(0, eq) == key;
        if (!item.empty() && !drop) query += (query.empty() ? "" : "&") + std::string(item);
        pos = end + 1;
      }
      if (!query.empty()) {
        out += "?" + query;
        has_query = true;
      }
    }
    out += has_query ? '&' : '?';
    out += std::string(key) + "=" + PercentEncode(value);
    return out;
  }
  std::size_t copied = 0;
  for (const auto& k : Keywords(url)) {
    if (k.key != key) continue;
    out.append(url.substr(copied, k.begin - copied));
    copied = k.end;
  }
  out.append(url.substr(copied));
  while (!out.empty() && IsSpace(out.back())) out.pop_back();
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('\'');
  if (!out.empty()) out.push_back(' ');
  out += std::string(key) + "=" + quoted;
  return out;
}

bool IsValidSchemaName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '_')) return false;
  }
  return true;
}

bool SetsServerSetting(std::string_view libpq_options, std::string_view name) {
  // Split as the server does (pg_split_opts): whitespace separates, a backslash escapes
  // the next character.
  std::vector<std::string> args;
  std::string current;
  bool in_arg = false;
  for (std::size_t i = 0; i < libpq_options.size(); ++i) {
    char c = libpq_options[i];
    if (IsSpace(c)) {
      if (in_arg) args.push_back(std::exchange(current, {}));
      in_arg = false;
      continue;
    }
    if (c == '\\' && i + 1 < libpq_options.size()) c = libpq_options[++i];
    current.push_back(c);
    in_arg = true;
  }
  if (in_arg) args.push_back(current);
  const auto normal = [](std::string_view text) {
    std::string out;
    for (char c : text) out.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
  };
  const std::string wanted = normal(name);
  const auto assigns = [&](std::string_view assignment) {
    const auto eq = assignment.find('=');
    return eq != std::string_view::npos && normal(assignment.substr(0, eq)) == wanted;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "-c") {
      if (i + 1 < args.size() && assigns(args[i + 1])) return true;
      ++i;
    } else if (a.starts_with("--") || a.starts_with("-c")) {
      if (assigns(a.substr(2))) return true;
    }
  }
  return false;
}

std::string UrlHostPort(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  auto authority = url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string hosts(authority.empty() ? "localhost" : authority);
  if (hosts.find(',') == std::string::npos && hosts.rfind(':') == std::string::npos) hosts += ":5432";
  if (hosts.front() == '[' && hosts.back() == ']') hosts += ":5432";  // [v6] without a port
  return hosts;
}

}  // namespace projd
