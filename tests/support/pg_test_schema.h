// PgTestSchema: a fresh, migrated schema in the test server for one test.
//
// Postgres tests (*_pgtest.cpp) run in parallel against the server started by
// projd-testpg; each takes its own schema (projd_t_<random>) so they never see each
// other's rows, and drops it afterwards. Fails the test with a clear message when
// DATABASE_URL is unset (run through `make test`).
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "orchestrator/pg/connection.h"

namespace projd::testing {

class PgTestSchema {
 public:
  // Creates and migrates the schema (all embedded migrations unless `migrate` is false).
  explicit PgTestSchema(bool migrate = true);
  // The same on another server (a test's own EmbeddedPostgres).
  PgTestSchema(std::string url, bool migrate);
  ~PgTestSchema();
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  const std::string& schema() const { return options_.schema; }
  const std::string& url() const { return options_.url; }
  const pg::ConnectionOptions& options() const { return options_; }
  // A new connection with search_path = this schema.
  std::unique_ptr<pqxx::connection> Connect() const;
  // Runs one statement in its own transaction and returns the result.
  pqxx::result Exec(const std::string& sql) const;
  // First column of the first row as T.
  template <typename T>
  T Scalar(const std::string& sql) const {
    return Exec(sql)[0][0].as<T>();
  }

 private:
  pg::ConnectionOptions options_;
};

// DATABASE_URL of the test server; fails the current test when unset.
std::string TestDatabaseUrl();

}  // namespace projd::testing
