// Test-only projection linked into projd-test-worker: on the first event of type "Pause"
// seen by any worker it stops its own process (SIGSTOP) in the middle of the projection
// transaction, after writing the row. "First" is decided by removing the marker file
// named by PROJD_TEST_PAUSE_MARKER: only one process can unlink it.
#include <csignal>
#include <cstdlib>

#include <unistd.h>

#include <pqxx/pqxx>

#include <projd/registry.h>

namespace projd::testing {
namespace {

class PausingProjection final : public TransactionalProjection {
 public:
  std::string Name() const override { return "pausing"; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS pausing_model (position BIGINT PRIMARY KEY, event_type TEXT NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE pausing_model"); }
  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    for (const auto& e : batch) {
      tx.exec_params0("INSERT INTO pausing_model VALUES ($1, $2)", e.global_position, e.event_type);
      const char* marker = std::getenv("PROJD_TEST_PAUSE_MARKER");
      if (e.event_type == "Pause" && marker != nullptr && ::unlink(marker) == 0) std::raise(SIGSTOP);
    }
  }
};

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::PausingProjection);
