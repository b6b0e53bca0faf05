// ProjectionRegistry: the projections linked into this binary.
//
// Registration happens by linking: PROJD_REGISTER_PROJECTION(MyProjection) in the user's
// .cpp adds a factory during static initialisation. This is the one deliberate global of
// projd (the registry must exist before main). Reading it after main() has started is
// thread-safe; registering happens only during static initialisation.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "projections/projection.h"

namespace projd {

using ProjectionFactory = std::function<std::unique_ptr<Projection>()>;

class ProjectionRegistry {
 public:
  // The registry of this binary.
  static ProjectionRegistry& Linked();

  // Adds a factory; a duplicate name is reported by Validate(), not here (static init
  // must not throw).
  void Add(std::string name, ProjectionFactory factory);

  // Registered names, sorted.
  std::vector<std::string> Names() const;

  // Names registered twice, or not matching the name rules (empty = fine).
  std::vector<std::string> Problems() const;

  // Instances of the selected projections (empty selection = all). Throws
  // std::invalid_argument naming the unknown names and listing the registered ones.
  std::vector<std::unique_ptr<Projection>> Create(const std::vector<std::string>& selection) const;

 private:
  struct Entry {
    std::string name;
    ProjectionFactory factory;
  };
  std::vector<Entry> entries_;
};

// True for names made of [a-z0-9_-], 1..63 characters, starting with a letter.
bool IsValidProjectionName(const std::string& name);

namespace internal {
template <typename T>
struct Registrar {
  explicit Registrar(const char* type_name) {
    ProjectionRegistry::Linked().Add(T().Name(), [] { return std::make_unique<T>(); });
    (void)type_name;
  }
};
}  // namespace internal

}  // namespace projd

#define PROJD_INTERNAL_CONCAT2(a, b) a##b
#define PROJD_INTERNAL_CONCAT(a, b) PROJD_INTERNAL_CONCAT2(a, b)

// Registers projection class T (default-constructible) with the worker binary.
#define PROJD_REGISTER_PROJECTION(T)                                                   \
  static const ::projd::internal::Registrar<T> PROJD_INTERNAL_CONCAT(projd_registrar_, \
                                                                     __LINE__) {       \
    #T                                                                                 \
  }
