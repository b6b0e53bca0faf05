#include "orchestrator/waits/pg/pg_progress_store.h"

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// The rule lives in the function; a NULL replica set lets it pick the only one.
constexpr const char* kLaggingSql =
    "SELECT replica_set_name, lane, partition_no, checkpoint, owner, paused, state"
    " FROM projd_wait_lagging($1, $2, NULLIF($3, ''))";

}  // namespace

PgProgressStore::PgProgressStore(ConnectionOptions options) : options_(std::move(options)) {}
PgProgressStore::~PgProgressStore() = default;

pqxx::connection& PgProgressStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

WaitProgress PgProgressStore::Check(const WaitTarget& target) {
  try {
    return Translate("check the progress of " + target.projection, [&] {
      auto& conn = Conn();
      const SocketDeadline::Guard bounded(deadline_, conn.sock(), options_.client_deadline);
      pqxx::read_transaction tx(conn);
      const auto rows = tx.exec_params(kLaggingSql, target.projection, target.position, target.replica_set);
      WaitProgress progress;
      progress.replica_set = target.replica_set;
      for (const auto& row : rows) {
        progress.replica_set = row[0].is_null() ? "" : row[0].as<std::string>();
        progress.lane = row[1].is_null() ? target.projection : row[1].as<std::string>();
        if (row[2].is_null()) {  // the replica set is unknown: no partitions to list
          progress.replica_set_known = false;
          continue;
        }
        LaggingPartition p;
        p.partition = row[2].as<int>();
        if (!row[3].is_null()) p.checkpoint = row[3].as<std::int64_t>();
        p.owner = row[4].as<std::string>();
        p.paused = row[5].as<bool>();
        p.state = row[6].as<std::string>();
        progress.behind.push_back(std::move(p));
      }
      return progress;
    });
  } catch (const TransientError&) {
    conn_.reset();  // reopened on the next check
    throw;
  }
}

}  // namespace projd::pg
