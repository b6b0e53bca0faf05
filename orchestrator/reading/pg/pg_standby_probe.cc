#include "orchestrator/reading/pg/pg_standby_probe.h"

#include <string>

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// pg_last_wal_replay_lsn(): the end of the last record replayed; a standby's snapshots see
// every transaction whose commit record ends at or before it. The WAL receiver's timeline
// is shown to privileged roles only; the restartpoint's is always readable and lags a
// timeline switch (the standby then looks like another history for a while: safe).
constexpr const char* kStandbyFactsSql =
    "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() - '0/0', 0)::text,"
    " coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
    "          (SELECT timeline_id FROM pg_control_checkpoint())),"
    " (SELECT system_identifier::text FROM pg_control_system())";

// The insert position, not the write or flush position: a transaction becomes visible
// after its commit record is inserted and before it is written (synchronous_commit = off
// does not even wait for the flush), so only the insert position read after a snapshot is
// at or past the commit of everything that snapshot sees. The timeline is the one of the
// WAL file that position lies in.
constexpr const char* kPrimaryWalSql =
    "SELECT (l - '0/0')::text, ('x' || substr(pg_walfile_name(l), 1, 8))::bit(32)::bigint,"
    " (SELECT system_identifier::text FROM pg_control_system())"
    " FROM (SELECT pg_current_wal_insert_lsn() AS l) AS now";

}  // namespace

StandbyFacts ReadStandbyFacts(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  const auto r = tx.exec1(kStandbyFactsSql);
  StandbyFacts f;
  f.in_recovery = r[0].as<bool>();
  f.replayed.lsn = std::stoull(r[1].as<std::string>());
  f.replayed.timeline = r[2].is_null() ? 0 : r[2].as<std::uint32_t>();
  f.replayed.system_id = r[3].as<std::string>();
  return f;
}

WalPosition ReadPrimaryWalPosition(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  const auto r = tx.exec1(kPrimaryWalSql);
  return WalPosition{std::stoull(r[0].as<std::string>()), r[1].as<std::uint32_t>(), r[2].as<std::string>()};
}

PgStandbyProbe::PgStandbyProbe(ConnectionOptions options) : options_(std::move(options)) {}
PgStandbyProbe::~PgStandbyProbe() = default;

StandbyFacts PgStandbyProbe::Probe() {
  try {
    if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
    const SocketDeadline::Guard bounded(deadline_, conn_->sock(), options_.client_deadline);
    return ReadStandbyFacts(*conn_);
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("probe the standby");
  }
}

}  // namespace projd::pg
