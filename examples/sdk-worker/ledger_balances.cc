// ledger_balances (transactional): per account, the number of events and the balance
// (deposits minus withdrawals; payload {"amount":N,...}). Its writes commit together with
// projd's checkpoint, so every event counts exactly once.
#include <charconv>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <projd/projd.h>

#include "ledger_config.h"

namespace ledger {
namespace {

// The integer after "amount": in the payload; throws on a payload without one (the
// projection's error policy then decides: here, stop).
long long Amount(const std::string& payload) {
  const std::string key = "\"amount\":";
  const auto at = payload.find(key);
  long long value = 0;
  if (at == std::string::npos ||
      std::from_chars(payload.data() + at + key.size(), payload.data() + payload.size(), value).ec != std::errc{}) {
    throw std::runtime_error("payload has no amount: " + payload);
  }
  return value;
}

class LedgerBalances final : public projd::TransactionalProjection {
 public:
  explicit LedgerBalances(LedgerConfig config) : config_(std::move(config)) {}

  std::string Name() const override { return "ledger_balances"; }
  projd::ProjectionScope Scope() const override { return {.aggregate_types = {"account"}}; }

  void Setup(projd::Transaction& tx) override {
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS ledger_balances ("
        " account_id TEXT PRIMARY KEY,"
        " event_count BIGINT NOT NULL,"
        " balance BIGINT NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE ledger_balances"); }

  void Handle(std::span<const projd::Event> batch, projd::Transaction& tx) override {
    struct Change {
      long long events = 0;
      long long amount = 0;
    };
    std::map<std::string, Change> changes;
    for (const auto& e : batch) {
      auto& c = changes[e.aggregate_id];
      ++c.events;
      if (e.event_type == config_.deposit_type) c.amount += Amount(e.payload);
      if (e.event_type == config_.withdrawal_type) c.amount -= Amount(e.payload);
    }
    std::vector<std::string> accounts;
    std::vector<long long> events, amounts;
    for (const auto& [account, c] : changes) {
      accounts.push_back(account);
      events.push_back(c.events);
      amounts.push_back(c.amount);
    }
    // One statement for the whole batch: the rows travel as three array parameters.
    tx.exec_params0(
        "INSERT INTO ledger_balances AS b (account_id, event_count, balance)"
        " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
        " ON CONFLICT (account_id) DO UPDATE"
        " SET event_count = b.event_count + EXCLUDED.event_count, balance = b.balance + EXCLUDED.balance",
        projd::TextArray(accounts), projd::IntArray(events), projd::IntArray(amounts));
  }

 private:
  LedgerConfig config_;
};

}  // namespace
}  // namespace ledger

// Registered by linking, built by a factory that hands it its dependency.
PROJD_REGISTER_PROJECTION_FACTORY("ledger_balances", [] {
  return std::make_unique<ledger::LedgerBalances>(ledger::LedgerConfig::FromEnvironment());
});
