#include "tests/faults/fault_writer.h"

#include <chrono>
#include <map>
#include <memory>

#include <pqxx/pqxx>

#include "orchestrator/pg/connection.h"

namespace projd::faults {
namespace {

constexpr const char* kInsertSql =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id,"
    " event_type, event_version, payload, metadata)"
    " VALUES ('faults', 'Item', $1, $2, gen_random_uuid(), $3, 1, '\\x7b7d'::bytea, '{}'::jsonb)";
constexpr const char* kVersionsSql =
    "SELECT aggregate_id, max(aggregate_version) FROM events"
    " WHERE bounded_context = 'faults' AND aggregate_type = 'Item' AND aggregate_id LIKE $1 GROUP BY 1";
const char* const kTypes[] = {"Created", "Updated", "Updated", "Renamed", "Closed"};

}  // namespace

FaultWriter::FaultWriter(FaultWriterOptions options) : options_(std::move(options)), thread_([this] { Run(); }) {}

FaultWriter::~FaultWriter() { Stop(); }

void FaultWriter::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FaultWriter::Run() {
  std::mt19937_64 rng(options_.seed);
  std::unique_ptr<pqxx::connection> conn;
  std::map<std::string, std::int64_t> versions;
  bool reload = true;
  while (!stop_) {
    try {
      if (!conn || !conn->is_open()) {
        conn = pg::Connect({options_.url, options_.schema, "projd-faults-writer"});
        reload = true;
      }
      if (reload) {
        versions.clear();
        pqxx::nontransaction tx(*conn);
        for (const auto& r : tx.exec_params(kVersionsSql, options_.name + "-%")) {
          versions[r[0].as<std::string>()] = r[1].as<std::int64_t>();
        }
        reload = false;
      }
      const int n = 1 + static_cast<int>(rng() % 5);
      std::map<std::string, std::int64_t> next = versions;
      pqxx::work tx(*conn);
      for (int i = 0; i < n; ++i) {
        const std::string id = options_.name + "-" + std::to_string(rng() % options_.aggregates);
        const std::int64_t v = ++next[id];
        tx.exec_params0(kInsertSql, id, v, kTypes[rng() % 5]);
        if (options_.max_pause_ms > 0 && rng() % 2 == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (options_.max_pause_ms + 1)));
        }
      }
      if (std::uniform_real_distribution<double>(0, 1)(rng) < options_.rollback_ratio) {
        tx.abort();
        rolled_back_ += n;
      } else {
        tx.commit();
        versions = std::move(next);
        committed_ += n;
      }
    } catch (const std::exception&) {
      // The server restarted or the commit's outcome is unknown: start over from the table.
      ++errors_;
      reload = true;
      conn.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace projd::faults
