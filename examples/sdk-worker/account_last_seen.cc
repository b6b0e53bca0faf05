// account_last_seen (async): per account, the last version and event type seen. It writes
// on its own connection, outside projd's checkpoint transaction, so a batch may arrive again
// after a crash or handover (at-least-once); the version guard makes a repeat change nothing.
#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <projd/projd.h>

namespace ledger {
namespace {

class AccountLastSeen final : public projd::AsyncProjection {
 public:
  std::string Name() const override { return "account_last_seen"; }
  projd::ProjectionScope Scope() const override { return {.aggregate_types = {"account"}}; }

  void Setup(projd::Transaction& tx) override {
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS account_last_seen ("
        " account_id TEXT PRIMARY KEY,"
        " last_version BIGINT NOT NULL,"
        " last_event_type TEXT NOT NULL)");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE account_last_seen"); }

  void Handle(std::span<const projd::Event> batch, projd::AsyncContext& context) override {
    struct Last {
      long long version = 0;
      std::string event_type;
    };
    std::map<std::string, Last> last;  // the batch is in order per account: the last one wins
    for (const auto& e : batch) last[e.aggregate_id] = {e.aggregate_version, e.event_type};
    if (last.empty()) return;
    std::vector<std::string> accounts, types;
    std::vector<long long> versions;
    for (const auto& [account, l] : last) {
      accounts.push_back(account);
      versions.push_back(l.version);
      types.push_back(l.event_type);
    }
    pqxx::work tx(*context.connection);
    tx.exec_params0(
        "INSERT INTO account_last_seen AS s (account_id, last_version, last_event_type)"
        " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])"
        " ON CONFLICT (account_id) DO UPDATE"
        " SET last_version = EXCLUDED.last_version, last_event_type = EXCLUDED.last_event_type"
        " WHERE EXCLUDED.last_version > s.last_version",
        projd::TextArray(accounts), projd::IntArray(versions), projd::TextArray(types));
    tx.commit();
  }
};

}  // namespace
}  // namespace ledger

PROJD_REGISTER_PROJECTION(ledger::AccountLastSeen);
