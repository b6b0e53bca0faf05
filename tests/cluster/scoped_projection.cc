// Test-only projection linked into projd-test-worker: `scoped_accounts` reads only events of
// aggregate type Account (its Scope() is pushed into the reader's SQL) and records each one
// it is handed, so a test can tell the events it skipped from those it applied.
#include <pqxx/pqxx>

#include <projd/registry.h>
#include <projd/sql_array.h>

namespace projd::testing {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS scoped_accounts (global_position BIGINT PRIMARY KEY, aggregate_type TEXT NOT NULL)";
constexpr const char* kInsertSql =
    "INSERT INTO scoped_accounts SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING";

class ScopedAccounts final : public TransactionalProjection {
 public:
  std::string Name() const override { return "scoped_accounts"; }
  ProjectionScope Scope() const override { return {.aggregate_types = {"Account"}}; }
  void Setup(projd::Transaction& tx) override { tx.exec0(kCreateSql); }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE scoped_accounts"); }

  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    std::vector<std::int64_t> positions;
    std::vector<std::string> types;
    for (const auto& e : batch) {
      positions.push_back(e.global_position);
      types.push_back(e.aggregate_type);
    }
    tx.exec_params0(kInsertSql, projd::IntArray(positions), projd::TextArray(types));
  }
};

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::ScopedAccounts);
