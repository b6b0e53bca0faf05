#include <projd/registry.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

namespace projd {

ProjectionRegistry& ProjectionRegistry::Linked() {
  static ProjectionRegistry registry;
  return registry;
}

void ProjectionRegistry::Add(std::string name, ProjectionFactory factory) {
  std::lock_guard lock(mu_);
  entries_.push_back({std::move(name), 0, std::move(factory), nullptr});
}

void ProjectionRegistry::AddUnnamed(ProjectionFactory factory) {
  std::lock_guard lock(mu_);
  entries_.push_back({"", 0, std::move(factory), nullptr});
}

// Learns the names of types registered without one (kVersions: every entry's version too)
// by building their first instance, which Build hands out first. Listing names builds no
// named factory; a factory that returns nothing is reported by Build.
void ProjectionRegistry::ResolveLocked(Resolve what) const {
  for (auto& e : entries_) {
    const bool needed = e.name.empty() || (what == Resolve::kVersions && e.version == 0);
    if (!needed) continue;
    if (!e.first) e.first = e.factory();
    if (!e.first) continue;
    if (e.name.empty()) e.name = e.first->Name();
    e.version = e.first->Version();
  }
}

std::unique_ptr<Projection> ProjectionRegistry::Build(Entry& entry) const {
  auto p = entry.first ? std::move(entry.first) : entry.factory();
  if (!p) throw std::invalid_argument("the factory of projection '" + entry.name + "' returned nothing");
  if (p->Name() != entry.name) {
    throw std::invalid_argument("projection registered as '" + entry.name + "' names itself '" + p->Name() + "'");
  }
  if (p->Version() != entry.version) {
    throw std::invalid_argument("projection '" + entry.name + "' changed its version from " +
                                std::to_string(entry.version) + " to " + std::to_string(p->Version()));
  }
  return p;
}

std::vector<std::string> ProjectionRegistry::Names() const {
  std::lock_guard lock(mu_);
  ResolveLocked(Resolve::kNames);
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> ProjectionRegistry::Problems() const {
  std::lock_guard lock(mu_);
  ResolveLocked(Resolve::kVersions);
  std::vector<std::string> problems;
  std::map<std::pair<std::string, int>, int> seen;
  for (const auto& e : entries_) {
    if (++seen[{e.name, e.version}] == 2) {
      problems.push_back("projection '" + e.name + "' version " + std::to_string(e.version) + " is registered twice");
    }
    if (e.first && (e.version < 1 || e.version > kMaxProjectionVersion)) {
      problems.push_back("projection '" + e.name + "' has version " + std::to_string(e.version) + " (use 1.." +
                         std::to_string(kMaxProjectionVersion) + ")");
    }
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

namespace {
// Whether selection item `item` ("name" or "name@N") picks version `version` of `name`.
bool Picks(const std::string& item, const std::string& name, int version) {
  if (item == name) return true;
  return item == name + "@" + std::to_string(version);
}
}  // namespace

std::vector<std::unique_ptr<Projection>> ProjectionRegistry::Create(
    const std::vector<std::string>& selection) const {
  const auto names = Names();
  std::lock_guard lock(mu_);
  ResolveLocked(Resolve::kVersions);
  std::vector<std::string> unknown;
  for (const auto& item : selection) {
    const bool known = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
      return Picks(item, e.name, e.version);
    });
    if (!known) unknown.push_back(item);
  }
  if (!unknown.empty()) {
    throw std::invalid_argument("unknown projection(s): " + Join(unknown) + " (registered: " + Join(names) + ")");
  }
  std::vector<Entry*> wanted;
  std::set<std::pair<std::string, int>> seen;
  for (auto& e : entries_) {
    const bool picked = selection.empty() || std::any_of(selection.begin(), selection.end(), [&](const auto& item) {
                          return Picks(item, e.name, e.version);
                        });
    if (picked && seen.insert({e.name, e.version}).second) wanted.push_back(&e);
  }
  std::stable_sort(wanted.begin(), wanted.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->name, a->version) < std::tie(b->name, b->version);
  });
  std::vector<std::unique_ptr<Projection>> out;
  for (auto* e : wanted) out.push_back(Build(*e));
  return out;
}

bool IsValidProjectionName(const std::string& name) {
  if (name.empty() || name.size() > 63 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace projd
