#include "orchestrator/pg/pg_event_reader.h"

#include <algorithm>
#include <chrono>

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/partition_index.h"
#include "orchestrator/pg/pg_event_store.h"
#include "orchestrator/pg/sql_array.h"

namespace projd::pg {
namespace {

// The partition of a row: the stored hash, or (rows from before migration 0003) the hash
// computed on the fly.
constexpr const char* kPartitionExpr = "(coalesce(partition_hash, projd_fnv1a32(aggregate_id)) % $3)";

// $1 lowest owned position, $2 high-water mark, $3 partition count, $4 per-partition
// "after" positions indexed by partition + 1 (NULL = not owned), $5 aggregate types,
// $6 bounded contexts (empty = all), $7 limit.
std::string MakeBatchSql() {
  const std::string part = kPartitionExpr;
  return std::string("SELECT ") + kEventColumns + ", " + part + "::int" +
         " FROM events"
         " WHERE global_position > $1 AND global_position <= $2"
         " AND ($4::bigint[])[" + part + " + 1] < global_position"
         " AND (cardinality($5::text[]) = 0 OR aggregate_type = ANY($5::text[]))"
         " AND (cardinality($6::text[]) = 0 OR bounded_context = ANY($6::text[]))"
         " ORDER BY global_position LIMIT $7";
}

constexpr const char* kBatchStatement = "projd_read_batch";

// The per-partition merge (partition_index.h): one branch per owned partition, each the
// first `limit` rows of its own range of the index, merged in position order. $1 mark,
// $2 limit, $3 owned partitions, $4 their "after" positions (same order), $5 aggregate
// types, $6 bounded contexts. P and the branch count are part of the text.
std::string MakeMergeSql(int partitions, int owned) {
  const auto part = PartitionExpression(partitions);
  std::string sql = "SELECT * FROM (";
  for (int i = 1; i <= owned; ++i) {
    const auto n = std::to_string(i);
    if (i > 1) sql += " UNION ALL ";
    sql += std::string("(SELECT ") + kEventColumns + ", " + part + "::int AS partition FROM events WHERE " + part +
           " = ($3::bigint[])[" + n + "] AND global_position > ($4::bigint[])[" + n + "] AND global_position <= $1" +
           " AND (cardinality($5::text[]) = 0 OR aggregate_type = ANY($5::text[]))"
           " AND (cardinality($6::text[]) = 0 OR bounded_context = ANY($6::text[]))"
           " ORDER BY global_position LIMIT $2)";
  }
  return sql + ") AS owned ORDER BY global_position LIMIT $2";
}

std::string MergeStatement(int partitions, int owned) {
  return "projd_read_merge_" + std::to_string(partitions) + "_" + std::to_string(owned);
}

// How often a reader looks again for the index of its partition count (it may be built
// while workers run).
constexpr auto kIndexRecheck = std::chrono::seconds(60);

}  // namespace

std::string PgEventReader::MergeSql(int partitions, int owned) { return MakeMergeSql(partitions, owned); }

const std::string& PgEventReader::BatchSql() {
  static const std::string sql = MakeBatchSql();
  return sql;
}

const std::vector<std::pair<std::string, std::string>>& PgEventReader::SessionSettings() {
  // The batch is the first `limit` rows of a primary-key range: an ordered index scan that
  // stops at the limit. Without statistics (a freshly loaded events table that autovacuum
  // has not analysed yet) the planner estimated a few hundred rows in the range and chose a
  // bitmap scan of the whole range plus a sort: 342 ms instead of 5 ms per batch of 500 on
  // 200,000 events. These sessions only run that statement, so both are switched off.
  static const std::vector<std::pair<std::string, std::string>> settings{
      {"max_parallel_workers_per_gather", "0"}, {"enable_bitmapscan", "off"}, {"enable_sort", "off"},
      {"plan_cache_mode", "force_generic_plan"}};
  return settings;
}

PgEventReader::PgEventReader(ConnectionOptions options) : options_(std::move(options)) {
  for (const auto& s : SessionSettings()) options_.settings.push_back(s);
}

PgEventReader::~PgEventReader() = default;

pqxx::connection& PgEventReader::Conn() {
  if (!conn_ || !conn_->is_open()) {
    conn_ = Connect(options_);
    conn_->prepare(kBatchStatement, BatchSql());  // parsed and planned once per session
    prepared_merges_.clear();
  }
  return *conn_;
}

bool PgEventReader::PrefersMerge(int partitions, std::size_t owned, int limit) {
  // Owning more than half, the walk visits at most twice the rows it returns, in one scan.
  if (owned == 0 || owned * 2 > static_cast<std::size_t>(partitions)) return false;
  // Server time in tenths of a microsecond, fitted to batches timed on 1,000,000 cached
  // events (reading.md): a merged row costs 2.7 us (a random heap access each), starting a
  // branch 12.5 us; a walked row 2.0 us, plus 0.15 us for each row it skips (the walk
  // visits P/k rows per row it returns, but neighbours on the same heap page are cheap).
  const double n = limit, k = static_cast<double>(owned);
  const double merge = 27 * n + 125 * k;
  const double walk = 20 * n + 1.5 * (partitions / k) * n;
  return merge < walk;
}

bool PgEventReader::UseMerge(int partitions, std::size_t owned, int limit) {
  if (!PrefersMerge(partitions, owned, limit)) return false;
  auto& check = index_checks_[partitions];
  const auto now = std::chrono::steady_clock::now();
  if (!check.checked || now - check.at >= kIndexRecheck) {
    pqxx::nontransaction tx(Conn());
    check = {true, HasPartitionIndex(tx, partitions), now};
  }
  return check.present;
}

pqxx::result PgEventReader::ExecWalk(const ReadRequest& request, std::int64_t lowest) {
  std::string after = "{";
  for (int p = 0; p < request.partition_count; ++p) {
    if (p > 0) after.push_back(',');
    const auto it = request.after.find(p);
    after += it == request.after.end() ? "NULL" : std::to_string(it->second);
  }
  after.push_back('}');
  pqxx::nontransaction tx(Conn());
  return tx.exec_prepared(kBatchStatement, lowest, request.high_water_mark, request.partition_count, after,
                          TextArray(request.scope.aggregate_types), TextArray(request.scope.bounded_contexts),
                          request.limit);
}

pqxx::result PgEventReader::ExecMerge(const ReadRequest& request) {
  const int owned = static_cast<int>(request.after.size());
  const auto statement = MergeStatement(request.partition_count, owned);
  auto& conn = Conn();
  if (prepared_merges_.insert(statement).second) conn.prepare(statement, MakeMergeSql(request.partition_count, owned));
  std::vector<std::int64_t> partitions, afters;
  for (const auto& [p, position] : request.after) {
    partitions.push_back(p);
    afters.push_back(position);
  }
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared(statement, request.high_water_mark, request.limit, IntArray(partitions), IntArray(afters),
                          TextArray(request.scope.aggregate_types), TextArray(request.scope.bounded_contexts));
}

std::string PgEventReader::Plan() const {
  switch (last_plan_) {
    case ReadPlan::kPartitionMerge: return "partition_merge";
    case ReadPlan::kPrimaryKeyWalk: return "primary_key_walk";
    case ReadPlan::kNone: break;
  }
  return "";
}

ReadResult PgEventReader::ReadBatch(const ReadRequest& request) {
  ReadResult result;
  result.scanned_to = request.high_water_mark;
  last_plan_ = ReadPlan::kNone;
  if (request.after.empty() || request.limit <= 0) return result;
  std::int64_t lowest = request.after.begin()->second;
  for (const auto& [p, position] : request.after) lowest = std::min(lowest, position);
  if (lowest >= request.high_water_mark) return result;
  try {
    // One statement, one snapshot: no BEGIN/COMMIT round trips around it.
    const bool merge = UseMerge(request.partition_count, request.after.size(), request.limit);
    const auto rows = merge ? ExecMerge(request) : ExecWalk(request, lowest);
    last_plan_ = merge ? ReadPlan::kPartitionMerge : ReadPlan::kPrimaryKeyWalk;
    result.events.reserve(rows.size());
    for (const auto& r : rows) result.events.push_back({EventFromRow(r), r[14].as<int>()});
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("read events");
  }
  if (static_cast<int>(result.events.size()) >= request.limit) {
    result.scanned_to = result.events.back().event.global_position;
  }
  return result;
}

}  // namespace projd::pg
