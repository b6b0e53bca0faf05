#include "orchestrator/pg/migrator.h"

#include <map>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// All SQL of the migrator. The advisory lock key is derived from the schema so separate
// schemas migrate independently.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(hashtext('projd.migrate.' || $1))";
constexpr const char* kCreateLedgerSql =
    "CREATE TABLE IF NOT EXISTS projd_schema_migrations ("
    " version INT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
constexpr const char* kLedgerSql = "SELECT version, name, checksum FROM projd_schema_migrations";
constexpr const char* kRecordSql =
    "INSERT INTO projd_schema_migrations (version, name, checksum) VALUES ($1, $2, md5($3))";
constexpr const char* kChecksumSql = "SELECT md5($1)";

struct LedgerRow {
  std::string name;
  std::string checksum;
};

std::map<int, LedgerRow> ReadLedger(pqxx::transaction_base& tx) {
  std::map<int, LedgerRow> rows;
  for (const auto& r : tx.exec(kLedgerSql)) {
    rows[r[0].as<int>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
  }
  return rows;
}

void CheckChecksum(pqxx::transaction_base& tx, const MigrationFile& f, const LedgerRow& row) {
  const auto expected = tx.exec_params1(kChecksumSql, std::string(f.sql))[0].as<std::string>();
  if (expected != row.checksum) {
    throw PermanentError("migration " + std::string(f.name) +
                         " was changed after it was applied (checksum " + row.checksum +
                         " in projd_schema_migrations, " + expected +
                         " now); restore the file or write a new migration");
  }
}

}  // namespace

Migrator::Migrator(ConnectionOptions options, std::span<const MigrationFile> files)
    : options_(std::move(options)), files_(files) {}

MigrationResult Migrator::Migrate() {
  auto conn = Connect(options_);
  MigrationResult result;
  Translate("bootstrap migrations ledger", [&] {
    pqxx::work tx(*conn);
    tx.exec_params(kLockSql, options_.schema);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(options_.schema));
    tx.exec0(kCreateLedgerSql);
    tx.commit();
  });
  for (const auto& f : files_) {
    const std::string name(f.name);
    Translate("migration " + name, [&] {
      pqxx::work tx(*conn);
      tx.exec_params(kLockSql, options_.schema);
      const auto ledger = ReadLedger(tx);
      if (auto it = ledger.find(f.version); it != ledger.end()) {
        CheckChecksum(tx, f, it->second);
        ++result.already_applied;
        return;  // rolls back the empty transaction
      }
      tx.exec(std::string(f.sql));
      tx.exec_params0(kRecordSql, f.version, name, std::string(f.sql));
      tx.commit();
      result.applied.push_back(name);
    });
  }
  return result;
}

std::vector<std::string> Migrator::Pending() {
  auto conn = Connect(options_);
  return Translate("read migrations ledger", [&] {
    pqxx::work tx(*conn);
    const bool has_ledger =
        tx.exec1("SELECT to_regclass('projd_schema_migrations') IS NOT NULL")[0].as<bool>();
    std::map<int, LedgerRow> ledger;
    if (has_ledger) ledger = ReadLedger(tx);
    std::vector<std::string> pending;
    for (const auto& f : files_) {
      if (auto it = ledger.find(f.version); it != ledger.end()) {
        CheckChecksum(tx, f, it->second);
      } else {
        pending.emplace_back(f.name);
      }
    }
    return pending;
  });
}

}  // namespace projd::pg
