#include "orchestrator/pg/sql_array.h"

namespace projd {

void AppendArrayElement(std::string& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string NullableTextArray(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  bool first = true;
  for (const auto& v : values) {
    if (!first) out.push_back(',');
    first = false;
    if (v) {
      AppendArrayElement(out, *v);
    } else {
      out += "NULL";
    }
  }
  out.push_back('}');
  return out;
}

}  // namespace projd
