// Test-only projections linked into projd-test-worker that record how often each event was
// applied, for exactly-once checks across resets (tests/cluster/projection_reset_cluster_test.cpp):
//  * apply_count (transactional): apply_counts(global_position, applied) counts every
//    application in the projection transaction. Before applying, a batch takes the advisory
//    lock kGateKey shared: a test holding it exclusively holds every batch in flight (with
//    its checkpoint rows locked), as a slow projection would.
//  * apply_log (async, one event per batch so that AsyncContext::replaying describes
//    exactly one event): a row per handling with the replaying flag it was handed.
#include <pqxx/pqxx>

#include <projd/registry.h>
#include <projd/sql_array.h>

namespace projd::testing {
namespace {

constexpr std::int64_t kGateKey = 727274;  // the same number in the test

class ApplyCount final : public TransactionalProjection {
 public:
  std::string Name() const override { return "apply_count"; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS apply_counts (global_position BIGINT PRIMARY KEY, applied INT NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE apply_counts"); }
  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    tx.exec_params("SELECT pg_advisory_xact_lock_shared($1)", kGateKey);
    std::vector<std::int64_t> positions;
    for (const auto& e : batch) positions.push_back(e.global_position);
    tx.exec_params0("INSERT INTO apply_counts SELECT p, 1 FROM unnest($1::bigint[]) AS p"
                    " ON CONFLICT (global_position) DO UPDATE SET applied = apply_counts.applied + 1",
                    projd::IntArray(positions));
  }
};

class ApplyLog final : public AsyncProjection {
 public:
  std::string Name() const override { return "apply_log"; }
  int BatchSize() const override { return 1; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS apply_log (global_position BIGINT NOT NULL, replaying BOOLEAN NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE apply_log"); }
  void Handle(std::span<const Event> batch, AsyncContext& context) override {
    pqxx::work tx(*context.connection);
    for (const auto& e : batch) {
      tx.exec_params0("INSERT INTO apply_log VALUES ($1, $2)", e.global_position, context.replaying);
    }
    tx.commit();
  }
};

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::ApplyCount);
PROJD_REGISTER_PROJECTION(projd::testing::ApplyLog);
