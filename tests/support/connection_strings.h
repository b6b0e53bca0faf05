// Building connection strings around awkward passwords, for the secret-masking tests.
#pragma once

#include <cctype>
#include <string>

namespace projd::testing {

// Percent-encodes every byte that is not alphanumeric (a URI's user info).
inline std::string PercentEncodeAll(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// A keyword-string value: quoted, with ' and \ escaped.
inline std::string KeywordQuoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

}  // namespace projd::testing
