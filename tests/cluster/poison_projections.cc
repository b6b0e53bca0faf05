// Test-only projections linked into projd-test-worker: they fail on events of type
// "Poison" until a row exists in poison_fixed (the "fixed deploy"), with short retries.
#include <pqxx/pqxx>

#include <projd/registry.h>

namespace projd::testing {
namespace {

template <bool kSkip>
class PoisonProjection final : public TransactionalProjection {
 public:
  std::string Name() const override { return kSkip ? "poison_skip" : "poison_stop"; }
  ErrorPolicy OnError() const override { return kSkip ? ErrorPolicy::kSkip : ErrorPolicy::kStop; }
  RetryPolicy Retry() const override { return {2, std::chrono::milliseconds(10), std::chrono::milliseconds(20)}; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS " + Table() + " (position BIGINT PRIMARY KEY, aggregate_id TEXT NOT NULL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS poison_fixed (fixed BOOLEAN)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE " + Table()); }
  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    const bool fixed = tx.exec1("SELECT count(*) FROM poison_fixed")[0].as<int>() > 0;
    for (const auto& e : batch) {
      if (e.event_type == "Poison" && !fixed) throw std::runtime_error("cannot handle poison");
      tx.exec_params0("INSERT INTO " + Table() + " VALUES ($1, $2)", e.global_position, e.aggregate_id);
    }
  }

 private:
  std::string Table() const { return kSkip ? "poison_skip_model" : "poison_stop_model"; }
};

using PoisonSkip = PoisonProjection<true>;
using PoisonStop = PoisonProjection<false>;

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::PoisonSkip);
PROJD_REGISTER_PROJECTION(projd::testing::PoisonStop);
