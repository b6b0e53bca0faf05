// Migrator: applies the numbered files of migrations/ (compiled in) to a schema.
//
// Each pending file runs in its own transaction under a transaction-scoped advisory lock
// (per schema), is re-checked against the ledger inside that lock, and is recorded in
// projd_schema_migrations with its version, name and md5 checksum. Many processes may
// migrate at once: exactly one applies each file, the others see it applied. An applied
// file whose checksum changed is an error (the schema on disk no longer matches).
// Not thread-safe; use one per thread.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "migrations/embedded_migrations.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct MigrationResult {
  std::vector<std::string> applied;  // names applied by this call, in order
  int already_applied = 0;           // files found in the ledger
};

class Migrator {
 public:
  // `files` defaults to EmbeddedMigrations(); tests pass their own.
  explicit Migrator(ConnectionOptions options,
                    std::span<const MigrationFile> files = EmbeddedMigrations());

  // Creates the schema if needed and applies pending files. Throws PermanentError for a
  // checksum mismatch (naming the file) or a failing file (naming it, with the server's
  // message); TransientError when the database is unreachable.
  MigrationResult Migrate();

  // Names of pending files without applying anything.
  std::vector<std::string> Pending();

 private:
  ConnectionOptions options_;
  std::span<const MigrationFile> files_;
};

}  // namespace projd::pg
