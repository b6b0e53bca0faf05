// Building PostgreSQL array literals for one `$n` parameter (libpqxx 6.4 cannot bind
// arrays): `SELECT ... FROM unnest($1::text[], $2::bigint[])` with the literals built here
// turns a whole batch into one statement. Elements are quoted and escaped, so any text
// (quotes, backslashes, commas, braces, NULL-looking words) round-trips exactly.
// Pure functions; thread-safe. Public: projections use them for one statement per batch.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace projd {

// Appends `value` to `out` as a double-quoted array element.
void AppendArrayElement(std::string& out, std::string_view value);

// {"a","b\"c"} for text[] parameters.
template <typename Range>
std::string TextArray(const Range& values) {
  std::string out = "{";
  bool first = true;
  for (const auto& v : values) {
    if (!first) out.push_back(',');
    first = false;
    AppendArrayElement(out, std::string_view(v));
  }
  out.push_back('}');
  return out;
}

// {1,2,3} for int[] / bigint[] parameters.
template <typename Range>
std::string IntArray(const Range& values) {
  std::string out = "{";
  bool first = true;
  for (const auto& v : values) {
    if (!first) out.push_back(',');
    first = false;
    out += std::to_string(v);
  }
  out.push_back('}');
  return out;
}

// {"x",NULL} for nullable text[] parameters.
std::string NullableTextArray(const std::vector<std::optional<std::string>>& values);

}  // namespace projd
