// The numbered SQL files of migrations/, compiled into the binary.
//
// migrations/ is the only place the schema is defined; the build turns each
// NNNN_name.sql into one entry here, ordered by version.
#pragma once

#include <span>
#include <string_view>

namespace projd {

struct MigrationFile {
  int version;            // NNNN prefix of the file name
  std::string_view name;  // file name without ".sql", e.g. "0001_event_store"
  std::string_view sql;   // file contents, executed as one statement batch
};

// All migration files, ascending by version. Thread-safe (static data).
std::span<const MigrationFile> EmbeddedMigrations();

}  // namespace projd
