#include "projections/registry.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace projd {

ProjectionRegistry& ProjectionRegistry::Linked() {
  static ProjectionRegistry registry;
  return registry;
}

void ProjectionRegistry::Add(std::string name, ProjectionFactory factory) {
  entries_.push_back({std::move(name), std::move(factory)});
}

std::vector<std::string> ProjectionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> ProjectionRegistry::Problems() const {
  std::vector<std::string> problems;
  std::map<std::string, int> seen;
  for (const auto& e : entries_) {
    if (++seen[e.name] == 2) problems.push_back("projection '" + e.name + "' is registered twice");
    if (!IsValidProjectionName(e.name)) {
      problems.push_back("projection name '" + e.name +
                         "' is invalid (use [a-z0-9_-], start with a letter, at most 63)");
    }
  }
  return problems;
}

std::vector<std::unique_ptr<Projection>> ProjectionRegistry::Create(
    const std::vector<std::string>& selection) const {
  std::vector<std::unique_ptr<Projection>> out;
  const auto names = Names();
  std::vector<std::string> unknown;
  for (const auto& s : selection) {
    if (!std::binary_search(names.begin(), names.end(), s)) unknown.push_back(s);
  }
  if (!unknown.empty()) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    throw std::invalid_argument("unknown projection(s): " + join(unknown) +
                                " (registered: " + join(names) + ")");
  }
  for (const auto& e : entries_) {
    const bool wanted =
        selection.empty() || std::find(selection.begin(), selection.end(), e.name) != selection.end();
    const bool first = std::none_of(out.begin(), out.end(), [&](const auto& p) { return p->Name() == e.name; });
    if (wanted && first) out.push_back(e.factory());
  }
  return out;
}

bool IsValidProjectionName(const std::string& name) {
  if (name.empty() || name.size() > 63 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace projd
