// Test-only projection linked into projd-test-worker: checks per-aggregate order. Each
// aggregate's versions must arrive as 1, 2, 3, ... exactly once; anything else (a gap, a
// repeat, a reordering) is recorded in order_violations in the same transaction. The fault
// suite requires order_violations to stay empty.
#include <map>
#include <tuple>

#include <pqxx/pqxx>

#include <projd/sql_array.h>
#include <projd/registry.h>

namespace projd::testing {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS order_check (aggregate_key TEXT PRIMARY KEY, last_version BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS order_violations (global_position BIGINT NOT NULL, aggregate_key TEXT NOT NULL,"
    " expected_version BIGINT NOT NULL, got_version BIGINT NOT NULL)";
constexpr const char* kLoadSql =
    "SELECT aggregate_key, last_version FROM order_check WHERE aggregate_key = ANY($1::text[]) FOR UPDATE";
constexpr const char* kUpsertSql =
    "INSERT INTO order_check (aggregate_key, last_version)"
    " SELECT * FROM unnest($1::text[], $2::bigint[])"
    " ON CONFLICT (aggregate_key) DO UPDATE SET last_version = EXCLUDED.last_version";
constexpr const char* kViolationSql =
    "INSERT INTO order_violations SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[])";

class OrderCheck final : public TransactionalProjection {
 public:
  std::string Name() const override { return "order_check"; }
  void Setup(projd::Transaction& tx) override { tx.exec0(kCreateSql); }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE order_check, order_violations"); }

  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    std::map<std::string, std::int64_t> last;
    for (const auto& e : batch) last.emplace(Key(e), 0);
    std::vector<std::string> keys;
    for (const auto& [k, v] : last) keys.push_back(k);
    for (const auto& r : tx.exec_params(kLoadSql, projd::TextArray(keys))) {
      last[r[0].as<std::string>()] = r[1].as<std::int64_t>();
    }
    std::vector<std::int64_t> positions, expected, got;
    std::vector<std::string> bad_keys;
    for (const auto& e : batch) {
      auto& v = last[Key(e)];
      if (e.aggregate_version != v + 1) {
        positions.push_back(e.global_position);
        bad_keys.push_back(Key(e));
        expected.push_back(v + 1);
        got.push_back(e.aggregate_version);
      }
      v = std::max(v, e.aggregate_version);
    }
    std::vector<std::int64_t> versions;
    for (const auto& [k, v] : last) versions.push_back(v);
    tx.exec_params0(kUpsertSql, projd::TextArray(keys), projd::IntArray(versions));
    if (!positions.empty()) {
      tx.exec_params0(kViolationSql, projd::IntArray(positions), projd::TextArray(bad_keys), projd::IntArray(expected),
                      projd::IntArray(got));
    }
  }

 private:
  static std::string Key(const Event& e) { return e.bounded_context + "/" + e.aggregate_type + "/" + e.aggregate_id; }
};

}  // namespace
}  // namespace projd::testing

PROJD_REGISTER_PROJECTION(projd::testing::OrderCheck);
