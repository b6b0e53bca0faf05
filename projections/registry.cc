#include <projd/registry.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace projd {

ProjectionRegistry& ProjectionRegistry::Linked() {
  static ProjectionRegistry registry;
  return registry;
}

void ProjectionRegistry::Add(std::string name, ProjectionFactory factory) {
  std::lock_guard lock(mu_);
  entries_.push_back({std::move(name), std::move(factory), nullptr});
}

void ProjectionRegistry::AddUnnamed(ProjectionFactory factory) {
  std::lock_guard lock(mu_);
  entries_.push_back({"", std::move(factory), nullptr});
}

// Learns the names of types registered without one, by building their first instance.
void ProjectionRegistry::ResolveLocked() const {
  for (auto& e : entries_) {
    if (!e.name.empty()) continue;
    e.first = e.factory();
    e.name = e.first->Name();
  }
}

std::unique_ptr<Projection> ProjectionRegistry::Build(Entry& entry) const {
  auto p = entry.first ? std::move(entry.first) : entry.factory();
  if (!p) throw std::invalid_argument("the factory of projection '" + entry.name + "' returned nothing");
  if (p->Name() != entry.name) {
    throw std::invalid_argument("projection registered as '" + entry.name + "' names itself '" + p->Name() + "'");
  }
  return p;
}

std::vector<std::string> ProjectionRegistry::Names() const {
  std::lock_guard lock(mu_);
  ResolveLocked();
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> ProjectionRegistry::Problems() const {
  std::lock_guard lock(mu_);
  ResolveLocked();
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

namespace {
std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
}  // namespace

std::vector<std::unique_ptr<Projection>> ProjectionRegistry::Create(
    const std::vector<std::string>& selection) const {
  const auto names = Names();
  std::vector<std::string> unknown;
  for (const auto& s : selection) {
    if (!std::binary_search(names.begin(), names.end(), s)) unknown.push_back(s);
  }
  if (!unknown.empty()) {
    throw std::invalid_argument("unknown projection(s): " + Join(unknown) + " (registered: " + Join(names) + ")");
  }
  std::lock_guard lock(mu_);
  std::vector<std::unique_ptr<Projection>> out;
  std::set<std::string> created;
  for (auto& e : entries_) {
    const bool wanted =
        selection.empty() || std::find(selection.begin(), selection.end(), e.name) != selection.end();
    if (wanted && created.insert(e.name).second) out.push_back(Build(e));
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
