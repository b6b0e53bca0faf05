// ProjectionRegistry: the projections a worker can run.
//
// Two ways to fill one:
// - By linking: PROJD_REGISTER_PROJECTION(MyProjection) (default-constructible) or
//   PROJD_REGISTER_PROJECTION_FACTORY("name", factory) in the team's .cpp adds to
//   ProjectionRegistry::Linked() during static initialisation; the stock main
//   (projd_add_worker) runs those. Nothing is constructed during static initialisation.
// - In the team's own main: build a registry, Add("name", factory) with lambdas that build
//   projections with their dependencies, and hand it to projd::RunWorker (projd/worker.h).
//
// Several versions of one name may be registered (docs/projections.md, "Versions"): each is
// its own entry, told apart by Version(). To learn a version, the registry builds the
// entry's first instance when it first needs it (Problems, Create; Names builds only types
// registered without a name), and hands that instance out first.
//
// A factory runs once per projection per worker process (and once for commands such as
// `projd rebuild` that need the projection's Reset). Reading and creating are thread-safe
// after main() has started; registering happens before the worker runs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <projd/projection.h>

namespace projd {

using ProjectionFactory = std::function<std::unique_ptr<Projection>()>;

class ProjectionRegistry {
 public:
  // The registry of this binary's link-time registrations.
  static ProjectionRegistry& Linked();

  ProjectionRegistry() = default;
  ProjectionRegistry(const ProjectionRegistry&) = delete;
  ProjectionRegistry& operator=(const ProjectionRegistry&) = delete;

  // Adds a projection named `name`, built by `factory`. A duplicate or invalid name is
  // reported by Problems(), not here (static initialisation must not throw); an instance
  // whose Name() differs from `name` is refused by Create().
  void Add(std::string name, ProjectionFactory factory);
  // Adds type T (default-constructible) under the name its instances report; the first
  // instance, built when the registry is first read, is the one Create() hands out first.
  template <typename T>
  void Add() {
    AddUnnamed([] { return std::make_unique<T>(); });
  }

  // Registered names, sorted (a name with several versions once).
  std::vector<std::string> Names() const;

  // A (name, version) registered twice, a version outside 1..9999, or a name not matching
  // the name rules (empty = fine).
  std::vector<std::string> Problems() const;

  // Instances of the selected projections (empty selection = all), sorted by name and
  // version. A selection item is a name (every version registered under it) or
  // "name@N" (version N only). Throws std::invalid_argument naming unknown items (and
  // listing the registered names), or a factory whose projection reports another name.
  std::vector<std::unique_ptr<Projection>> Create(const std::vector<std::string>& selection) const;

 private:
  struct Entry {
    std::string name;  // empty until resolved (Add<T>)
    int version = 0;   // 0 until resolved
    ProjectionFactory factory;
    std::unique_ptr<Projection> first;  // built to learn the name and version, handed out first
  };
  void AddUnnamed(ProjectionFactory factory);
  enum class Resolve { kNames, kVersions };
  void ResolveLocked(Resolve what) const;
  std::unique_ptr<Projection> Build(Entry& entry) const;

  mutable std::mutex mu_;
  mutable std::vector<Entry> entries_;
};

// The highest Version() a projection may declare.
inline constexpr int kMaxProjectionVersion = 9999;

// True for names made of [a-z0-9_-], 1..63 characters, starting with a letter.
bool IsValidProjectionName(const std::string& name);

namespace internal {
template <typename T>
struct Registrar {
  Registrar() { ProjectionRegistry::Linked().Add<T>(); }
};
struct FactoryRegistrar {
  FactoryRegistrar(const char* name, ProjectionFactory factory) {
    ProjectionRegistry::Linked().Add(name, std::move(factory));
  }
};
}  // namespace internal

}  // namespace projd

#define PROJD_INTERNAL_CONCAT2(a, b) a##b
#define PROJD_INTERNAL_CONCAT(a, b) PROJD_INTERNAL_CONCAT2(a, b)

// Registers projection class T (default-constructible) with the worker binary.
#define PROJD_REGISTER_PROJECTION(T) \
  static const ::projd::internal::Registrar<T> PROJD_INTERNAL_CONCAT(projd_registrar_, __LINE__) {}

// Registers a projection named `name` built by `factory` (a callable returning
// std::unique_ptr<projd::Projection>) with the worker binary.
#define PROJD_REGISTER_PROJECTION_FACTORY(name, factory) \
  static const ::projd::internal::FactoryRegistrar PROJD_INTERNAL_CONCAT(projd_registrar_, __LINE__) { name, factory }
