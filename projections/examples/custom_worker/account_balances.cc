// An application team's projection, built into its own worker binary with
// projd_add_worker (see CMakeLists.txt beside this file and docs/projections.md).
//
// account_balances keeps one row per account: the sum of the amounts of its
// "Deposited" / "Withdrawn" events (payload: the amount as decimal text).
#include <map>
#include <string>

#include <projd/sql_array.h>
#include <projd/registry.h>

namespace bank {

class AccountBalances final : public projd::TransactionalProjection {
 public:
  std::string Name() const override { return "account_balances"; }

  projd::ProjectionScope Scope() const override { return {.aggregate_types = {"account"}}; }

  projd::ErrorPolicy OnError() const override { return projd::ErrorPolicy::kSkip; }

  void Setup(projd::Transaction& tx) override {
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS account_balances ("
        " account_id TEXT PRIMARY KEY,"
        " balance NUMERIC NOT NULL DEFAULT 0)");
  }

  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE account_balances"); }

  void Handle(std::span<const projd::Event> batch, projd::Transaction& tx) override {
    std::map<std::string, long long> delta;
    for (const auto& e : batch) {
      const long long amount = std::stoll(e.payload);  // throws on a poison event
      if (e.event_type == "Deposited") delta[e.aggregate_id] += amount;
      if (e.event_type == "Withdrawn") delta[e.aggregate_id] -= amount;
    }
    if (delta.empty()) return;
    std::vector<std::string> ids;
    std::vector<long long> amounts;
    for (const auto& [id, d] : delta) {
      ids.push_back(id);
      amounts.push_back(d);
    }
    tx.exec_params0(
        "INSERT INTO account_balances AS b (account_id, balance)"
        " SELECT * FROM unnest($1::text[], $2::bigint[])"
        " ON CONFLICT (account_id) DO UPDATE SET balance = b.balance + EXCLUDED.balance",
        projd::TextArray(ids), projd::IntArray(amounts));
  }
};

}  // namespace bank

PROJD_REGISTER_PROJECTION(bank::AccountBalances);
