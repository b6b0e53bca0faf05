// PgStandbyProbe: StandbyProbe over PostgreSQL on its own connection to one standby of
// EVENTS_READ_URL; reconnects on the next call after a failure; a probe not answered
// within ConnectionOptions::client_deadline fails (a frozen standby). ReadStandbyFacts and
// ReadPrimaryWalPosition hold the SQL of both ends (also used by PgEventReader and
// PgPositionSource): docs/reading.md, "Reading from hot standbys". Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/socket_deadline.h"
#include "orchestrator/reading/standby_probe.h"

namespace projd::pg {

// One statement on a standby: in recovery, the WAL position it has replayed, the timeline
// it follows (the WAL receiver's, else its latest restartpoint's) and its system.
StandbyFacts ReadStandbyFacts(pqxx::connection& conn);
// One statement on the primary: its current WAL insert position, timeline and system.
WalPosition ReadPrimaryWalPosition(pqxx::connection& conn);

class PgStandbyProbe final : public StandbyProbe {
 public:
  explicit PgStandbyProbe(ConnectionOptions options);
  ~PgStandbyProbe() override;
  StandbyFacts Probe() override;

 private:
  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
  SocketDeadline deadline_;  // options_.client_deadline, when set
};

}  // namespace projd::pg
