#include "orchestrator/versions/lane_key.h"

#include <cstdint>
#include <cstdio>

namespace projd {

std::string LaneKey(const std::string& projection, int version) {
  return version <= 1 ? projection : projection + "@" + std::to_string(version);
}

LaneName ParseLaneKey(const std::string& key) {
  const auto at = key.rfind('@');
  if (at == std::string::npos || at + 1 >= key.size()) return {key, 1};
  int version = 0;
  for (std::size_t i = at + 1; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9' || version > 100000) return {key, 1};
    version = version * 10 + (key[i] - '0');
  }
  if (version < 2) return {key, 1};
  return {key.substr(0, at), version};
}

std::string VersionSchemaName(const std::string& stable_schema, const std::string& projection, int version) {
  std::string name = (stable_schema == "public" ? "" : stable_schema + "_") + projection + "_v" + std::to_string(version);
  constexpr std::size_t kMax = 63;
  if (name.size() <= kMax) return name;
  std::uint32_t h = 2166136261u;  // FNV-1a: short, stable across builds
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  char suffix[10];
  std::snprintf(suffix, sizeof(suffix), "_%08x", h);
  return name.substr(0, kMax - 9) + suffix;
}

}  // namespace projd
