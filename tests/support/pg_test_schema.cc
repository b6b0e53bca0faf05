#include "tests/support/pg_test_schema.h"

#include <cstdlib>
#include <random>

#include <catch2/catch.hpp>

#include "orchestrator/pg/migrator.h"

namespace projd::testing {

std::string TestDatabaseUrl() {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    FAIL("DATABASE_URL is not set: run Postgres tests through `make test` (projd-testpg)");
  }
  return url;
}

PgTestSchema::PgTestSchema(bool migrate) : PgTestSchema(TestDatabaseUrl(), migrate) {}

PgTestSchema::PgTestSchema(std::string url, bool migrate) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  options_.url = std::move(url);
  options_.schema = "projd_t_" + std::to_string(rng() % 1'000'000'000'000ULL);
  options_.application_name = "projd-test";
  if (migrate) {
    pg::Migrator(options_).Migrate();
  } else {
    auto c = pg::Connect({options_.url, "public", "projd-test"});
    pqxx::work tx(*c);
    tx.exec0("CREATE SCHEMA " + tx.quote_name(options_.schema));
    tx.commit();
  }
}

PgTestSchema::~PgTestSchema() {
  try {
    auto c = pg::Connect({options_.url, "public", "projd-test"});
    pqxx::work tx(*c);
    tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(options_.schema) + " CASCADE");
    tx.commit();
  } catch (const std::exception&) {
    // The server may be gone (a test that stops it); the schema dies with it.
  }
}

std::unique_ptr<pqxx::connection> PgTestSchema::Connect() const { return pg::Connect(options_); }

pqxx::result PgTestSchema::Exec(const std::string& sql) const {
  auto c = Connect();
  pqxx::work tx(*c);
  auto r = tx.exec(sql);
  tx.commit();
  return r;
}

}  // namespace projd::testing
