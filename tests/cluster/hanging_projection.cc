// Test-only projections linked into projd-test-worker: on an event of type "Hang" they stop
// inside Handle (the transactional one inside its unit's transaction) for as long as the
// file named by PROJD_TEST_HANG_FILE exists, after creating "<file>.<projection>" to say
// so. A worker started without the variable never hangs.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include <projd/registry.h>

namespace projd::testing {
namespace {

void HangWhileFileExists(const std::string& projection) {
  const char* file = std::getenv("PROJD_TEST_HANG_FILE");
  if (file == nullptr || !std::filesystem::exists(file)) return;
  std::ofstream(std::string(file) + "." + projection).put('x');
  while (std::filesystem::exists(file)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

class HangingTransactional final : public TransactionalProjection {
 public:
  std::string Name() const override { return "hanging_tx"; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS hanging_tx_model (position BIGINT NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE hanging_tx_model"); }
  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    for (const auto& e : batch) {
      tx.exec_params0("INSERT INTO hanging_tx_model VALUES ($1)", e.global_position);
      if (e.event_type == "Hang") HangWhileFileExists(Name());
    }
  }
};

class HangingAsync final : public AsyncProjection {
 public:
  std::string Name() const override { return "hanging_async"; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS hanging_async_model (position BIGINT PRIMARY KEY)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE hanging_async_model"); }
  void Handle(std::span<const Event> batch, AsyncContext& context) override {
    pqxx::work tx(*context.connection);
    for (const auto& e : batch) {
      if (e.event_type == "Hang") HangWhileFileExists(Name());
      tx.exec_params0("INSERT INTO hanging_async_model VALUES ($1) ON CONFLICT DO NOTHING", e.global_position);
    }
    tx.commit();
  }
};

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::HangingTransactional);
PROJD_REGISTER_PROJECTION(projd::testing::HangingAsync);
