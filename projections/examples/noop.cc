// noop (async): reads and acknowledges events without doing anything; measures the
// orchestrator's own cost in benchmarks.
#include <projd/registry.h>

namespace projd::examples {
namespace {

class Noop final : public AsyncProjection {
 public:
  std::string Name() const override { return "noop"; }
  void Handle(std::span<const Event>, AsyncContext&) override {}
};

}  // namespace
}  // namespace projd::examples

PROJD_REGISTER_PROJECTION(projd::examples::Noop);
