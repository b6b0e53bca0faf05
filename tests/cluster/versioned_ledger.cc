// `ledger`: a transactional test projection in two versions, for the version tests
// (tests/cluster/versions_cluster_test.cpp). Built into three workers: PROJD_LEDGER_V1 and
// PROJD_LEDGER_V2 choose the versions a binary has (old code: 1; new code: 1 and 2; a
// binary without the old version: 2). Both write unqualified names: the runtime decides
// the schema.
//   version 1: ledger(aggregate_id, events, last_position)
//   version 2: ledger(aggregate_id, events, version_sum, last_position), and a second table
//              ledger_types(aggregate_type, events): its logic differs, so the tests can tell
//              which version the stable names show.
#include <map>

#include <projd/registry.h>
#include <projd/sql_array.h>

namespace projd::testing {
namespace {

struct Totals {
  std::int64_t events = 0, version_sum = 0, last_position = 0;
};

std::map<std::string, Totals> PerAggregate(std::span<const Event> batch) {
  std::map<std::string, Totals> out;
  for (const auto& e : batch) {
    auto& t = out[e.aggregate_id];
    ++t.events;
    t.version_sum += e.aggregate_version;
    t.last_position = std::max(t.last_position, e.global_position);
  }
  return out;
}

#ifdef PROJD_LEDGER_V1
class LedgerV1 final : public TransactionalProjection {
 public:
  std::string Name() const override { return "ledger"; }
  void Setup(Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS ledger (aggregate_id TEXT PRIMARY KEY, events BIGINT NOT NULL,"
             " last_position BIGINT NOT NULL)");
  }
  void Reset(Transaction& tx) override { tx.exec0("TRUNCATE ledger"); }
  void Handle(std::span<const Event> batch, Transaction& tx) override {
    std::vector<std::string> ids;
    std::vector<std::int64_t> events, positions;
    for (const auto& [id, t] : PerAggregate(batch)) {
      ids.push_back(id);
      events.push_back(t.events);
      positions.push_back(t.last_position);
    }
    tx.exec_params0(
        "INSERT INTO ledger AS l SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
        " ON CONFLICT (aggregate_id) DO UPDATE SET events = l.events + EXCLUDED.events,"
        " last_position = GREATEST(l.last_position, EXCLUDED.last_position)",
        TextArray(ids), IntArray(events), IntArray(positions));
  }
};
PROJD_REGISTER_PROJECTION(LedgerV1);
#endif

#ifdef PROJD_LEDGER_V2
class LedgerV2 final : public TransactionalProjection {
 public:
  std::string Name() const override { return "ledger"; }
  int Version() const override { return 2; }
  void Setup(Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS ledger (aggregate_id TEXT PRIMARY KEY, events BIGINT NOT NULL,"
             " version_sum BIGINT NOT NULL, last_position BIGINT NOT NULL);"
             "CREATE TABLE IF NOT EXISTS ledger_types (aggregate_type TEXT PRIMARY KEY, events BIGINT NOT NULL)");
  }
  void Reset(Transaction& tx) override { tx.exec0("TRUNCATE ledger, ledger_types"); }
  void Handle(std::span<const Event> batch, Transaction& tx) override {
    std::vector<std::string> ids;
    std::vector<std::int64_t> events, sums, positions;
    for (const auto& [id, t] : PerAggregate(batch)) {
      ids.push_back(id);
      events.push_back(t.events);
      sums.push_back(t.version_sum);
      positions.push_back(t.last_position);
    }
    tx.exec_params0(
        "INSERT INTO ledger AS l SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])"
        " ON CONFLICT (aggregate_id) DO UPDATE SET events = l.events + EXCLUDED.events,"
        " version_sum = l.version_sum + EXCLUDED.version_sum,"
        " last_position = GREATEST(l.last_position, EXCLUDED.last_position)",
        TextArray(ids), IntArray(events), IntArray(sums), IntArray(positions));
    std::map<std::string, std::int64_t> types;
    for (const auto& e : batch) ++types[e.aggregate_type];
    std::vector<std::string> names;
    std::vector<std::int64_t> counts;
    for (const auto& [t, n] : types) {
      names.push_back(t);
      counts.push_back(n);
    }
    tx.exec_params0(
        "INSERT INTO ledger_types AS t SELECT * FROM unnest($1::text[], $2::bigint[])"
        " ON CONFLICT (aggregate_type) DO UPDATE SET events = t.events + EXCLUDED.events",
        TextArray(names), IntArray(counts));
  }
};
PROJD_REGISTER_PROJECTION(LedgerV2);
#endif

}  // namespace
}  // namespace projd::testing
