#include "orchestrator/database_url.h"

#include <cctype>

namespace projd {
namespace {

bool IsUri(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
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

std::string MaskUri(std::string_view url) {
  std::string out(url);
  // user:password@ in the authority part.
  const auto scheme_end = out.find("://");
  const auto authority_begin = scheme_end + 3;
  const auto authority_end = out.find_first_of("/?", authority_begin);
  const auto at = out.rfind('@', authority_end == std::string::npos ? out.size() : authority_end);
  if (at != std::string::npos && at > authority_begin) {
    const auto colon = out.find(':', authority_begin);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "****");
    }
  }
  // password=... in the query part.
  const auto query = out.find('?');
  if (query != std::string::npos) {
    std::size_t pos = query + 1;
    while (pos < out.size()) {
      auto end = out.find('&', pos);
      if (end == std::string::npos) end = out.size();
      if (out.compare(pos, 9, "password=") == 0) {
        out.replace(pos + 9, end - pos - 9, "****");
        end = pos + 9 + 4;
      }
      pos = end + 1;
    }
  }
  return out;
}

std::string MaskKeywords(std::string_view url) {
  std::string out;
  std::size_t i = 0;
  while (i < url.size()) {
    const auto key_pos = url.find("password", i);
    if (key_pos == std::string_view::npos) break;
    const bool at_word_start = key_pos == 0 || std::isspace(static_cast<unsigned char>(url[key_pos - 1]));
    std::size_t j = key_pos + 8;
    while (j < url.size() && std::isspace(static_cast<unsigned char>(url[j]))) ++j;
    if (!at_word_start || j >= url.size() || url[j] != '=') {
      out.append(url.substr(i, key_pos + 8 - i));
      i = key_pos + 8;
      continue;
    }
    ++j;
    while (j < url.size() && std::isspace(static_cast<unsigned char>(url[j]))) ++j;
    out.append(url.substr(i, j - i));
    out.append("****");
    if (j < url.size() && url[j] == '\'') {
      ++j;
      while (j < url.size() && url[j] != '\'') j += (url[j] == '\\' ? 2 : 1);
      ++j;
    } else {
      while (j < url.size() && !std::isspace(static_cast<unsigned char>(url[j]))) ++j;
    }
    i = j;
  }
  if (i < url.size()) out.append(url.substr(i));
  return out;
}

}  // namespace

std::string MaskDatabaseUrl(std::string_view url) {
  return IsUri(url) ? MaskUri(url) : MaskKeywords(url);
}

std::string MaskSecrets(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto a = text.find("postgresql://", i);
    auto b = text.find("postgres://", i);
    const auto start = std::min(a, b);
    if (start == std::string_view::npos) break;
    out += MaskKeywords(text.substr(i, start - i));
    auto end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           text[end] != '"' && text[end] != '\'') {
      ++end;
    }
    out += MaskUri(text.substr(start, end - start));
    i = end;
  }
  if (i < text.size()) out += MaskKeywords(text.substr(i));
  return out;
}

std::string WithConnectionParameter(std::string_view url, std::string_view key,
                                    std::string_view value) {
  std::string out(url);
  if (IsUri(url)) {
    out += (out.find('?') == std::string::npos) ? '?' : '&';
    out += std::string(key) + "=" + PercentEncode(value);
    return out;
  }
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

}  // namespace projd
