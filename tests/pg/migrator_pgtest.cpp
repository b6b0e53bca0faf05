#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/migrator.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using projd::testing::PgTestSchema;

TEST_CASE("migrations apply once and a second run is a no-op", "[pg][migrations]") {
  PgTestSchema db(/*migrate=*/false);
  projd::pg::Migrator migrator(db.options());
  const auto total = projd::EmbeddedMigrations().size();

  const auto first = migrator.Migrate();
  CHECK(first.applied.size() == total);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_schema_migrations") == static_cast<int>(total));
  CHECK(db.Scalar<bool>("SELECT to_regclass('events') IS NOT NULL"));

  const auto second = migrator.Migrate();
  CHECK(second.applied.empty());
  CHECK(second.already_applied == static_cast<int>(total));
  CHECK(migrator.Pending().empty());
}

TEST_CASE("a changed migration file after it was applied is a clear error", "[pg][migrations]") {
  PgTestSchema db(false);
  const projd::MigrationFile v1[] = {{1, "0001_t", "CREATE TABLE t (a int)"}};
  projd::pg::Migrator(db.options(), v1).Migrate();
  const projd::MigrationFile changed[] = {{1, "0001_t", "CREATE TABLE t (a bigint)"}};
  projd::pg::Migrator m(db.options(), changed);
  REQUIRE_THROWS_AS(m.Migrate(), projd::PermanentError);
  REQUIRE_THROWS_WITH(m.Migrate(), Catch::Contains("0001_t") && Catch::Contains("changed"));
}

TEST_CASE("a failing migration names the file and leaves nothing half-applied", "[pg][migrations]") {
  PgTestSchema db(false);
  const projd::MigrationFile files[] = {{1, "0001_ok", "CREATE TABLE ok (a int)"},
                                        {2, "0002_bad", "CREATE TABLE bad (a int); SELEC 1"}};
  projd::pg::Migrator m(db.options(), files);
  REQUIRE_THROWS_WITH(m.Migrate(), Catch::Contains("0002_bad"));
  CHECK(db.Scalar<bool>("SELECT to_regclass('ok') IS NOT NULL"));
  CHECK(db.Scalar<bool>("SELECT to_regclass('bad') IS NULL"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_schema_migrations") == 1);
}

TEST_CASE("five concurrent projd migrate processes all succeed with one application",
          "[pg][migrations][process]") {
  PgTestSchema db(false);
  std::vector<projd::testing::ProcessResult> results(5);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&r, &db] {
      r = projd::testing::RunProcess({PROJD_BINARY, "migrate"},
                                     {{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()}});
    });
  }
  for (auto& t : threads) t.join();
  int appliers = 0;
  for (const auto& r : results) {
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    if (r.out.find("applied 0001_event_store") != std::string::npos) ++appliers;
  }
  CHECK(appliers == 1);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_schema_migrations") ==
        static_cast<int>(projd::EmbeddedMigrations().size()));
}
