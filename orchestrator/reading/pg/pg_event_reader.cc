#include "orchestrator/reading/pg/pg_event_reader.h"

#include <algorithm>
#include <chrono>

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/reading/pg/partition_index.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "orchestrator/reading/pg/pg_standby_probe.h"
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

// One fill of the per-partition read (partition_merge.h): for each partition in $3 (with its
// "after" position at the same index of $4), its first $2 rows up to the mark $1, in scope
// ($5 aggregate types, $6 bounded contexts; empty = all), from its own range of the index:
// one index descent per partition. P is part of the text (the index expression's literal).
std::string MakeFillSql(int partitions) {
  const auto part = PartitionExpression(partitions);
  return std::string("SELECT e.* FROM unnest($3::bigint[], $4::bigint[]) AS o(p, after)"
                     " CROSS JOIN LATERAL (SELECT ") + kEventColumns + ", " + part + "::int AS partition" +
         " FROM events WHERE " + part + " = o.p AND global_position > o.after AND global_position <= $1"
         " AND (cardinality($5::text[]) = 0 OR aggregate_type = ANY($5::text[]))"
         " AND (cardinality($6::text[]) = 0 OR bounded_context = ANY($6::text[]))"
         " ORDER BY global_position LIMIT $2) AS e";
}

// The rows of either statement: the event columns, then its partition (column 14).
std::vector<EventWithPartition> EventsOf(const pqxx::result& rows) {
  std::vector<EventWithPartition> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({EventFromRow(r), r[14].as<int>()});
  return out;
}

std::string FillStatement(int partitions) { return "projd_read_fill_" + std::to_string(partitions); }

// Rows a merging reader keeps at most for later batches (chunk x owned partitions).
constexpr int kKeptRowsBudget = 8192;

// How often a reader looks again for the index of its partition count (it may be built
// while workers run).
constexpr auto kIndexRecheck = std::chrono::seconds(60);

}  // namespace

std::string PgEventReader::FillSql(int partitions) { return MakeFillSql(partitions); }

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
    ++session_;
    conn_->prepare(kBatchStatement, BatchSql());  // parsed and planned once per session
    prepared_fills_.clear();
  }
  return *conn_;
}

SocketDeadline::Guard PgEventReader::Bounded() {
  const int fd = options_.client_deadline.count() > 0 ? Conn().sock() : -1;
  return SocketDeadline::Guard(deadline_, fd, options_.client_deadline);
}

bool PgEventReader::PrefersMerge(int partitions, std::size_t owned) {
  // The walk visits about P/k rows per row it returns (sequentially: cheap neighbours); the
  // per-partition read visits the rows it returns (a random heap access each) plus one
  // index descent per chunk. Measured in reading.md: from a quarter of the partitions down
  // the per-partition read costs the server no more time, and far fewer rows.
  return owned > 0 && owned * 4 <= static_cast<std::size_t>(partitions);
}

bool PgEventReader::UseMerge(int partitions, std::size_t owned) {
  if (!PrefersMerge(partitions, owned)) return false;
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

std::vector<EventWithPartition> PgEventReader::Fill(const FillRequest& request) {
  const auto statement = FillStatement(request.partition_count);
  auto& conn = Conn();
  if (prepared_fills_.insert(request.partition_count).second) {
    conn.prepare(statement, MakeFillSql(request.partition_count));
  }
  std::vector<std::int64_t> partitions, afters;
  for (const auto& [p, position] : request.after) {
    partitions.push_back(p);
    afters.push_back(position);
  }
  pqxx::nontransaction tx(conn);
  return EventsOf(tx.exec_prepared(statement, request.high_water_mark, request.limit, IntArray(partitions),
                                  IntArray(afters), TextArray(request.scope.aggregate_types),
                                  TextArray(request.scope.bounded_contexts)));
}

ReadResult PgEventReader::ReadMerged(const ReadRequest& request) {
  // A chunk of the batch size per partition, within the budget of rows kept.
  const int owned = static_cast<int>(request.after.size());
  const int chunk = std::max(1, std::min(request.limit, kKeptRowsBudget / owned));
  return merge_.Read(request, chunk, [this](const FillRequest& f) { return Fill(f); });
}

ReadResult PgEventReader::ReadWalked(const ReadRequest& request, std::int64_t lowest) {
  merge_.Clear();
  ReadResult result;
  result.scanned_to = request.high_water_mark;
  result.events = EventsOf(ExecWalk(request, lowest));
  if (static_cast<int>(result.events.size()) >= request.limit) {
    result.scanned_to = result.events.back().event.global_position;
  }
  return result;
}

StandbyFacts PgEventReader::Replayed() {
  try {
    const auto bounded = Bounded();
    return ReadStandbyFacts(Conn());
  } catch (const std::exception&) {
    conn_.reset();
    merge_.Clear();
    Rethrow("read the standby's replay position");
  }
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
  // Nothing to read runs no statement and keeps the plan of the latest one.
  if (request.after.empty() || request.limit <= 0) return ReadResult{{}, request.high_water_mark};
  std::int64_t lowest = request.after.begin()->second;
  for (const auto& [p, position] : request.after) lowest = std::min(lowest, position);
  if (lowest >= request.high_water_mark) return ReadResult{{}, request.high_water_mark};
  try {
    const auto bounded = Bounded();
    // One statement per batch or fill, one snapshot each: no BEGIN/COMMIT round trips.
    const bool merge = UseMerge(request.partition_count, request.after.size());
    auto result = merge ? ReadMerged(request) : ReadWalked(request, lowest);
    last_plan_ = merge ? ReadPlan::kPartitionMerge : ReadPlan::kPrimaryKeyWalk;
    return result;
  } catch (const std::exception&) {
    conn_.reset();
    merge_.Clear();
    Rethrow("read events");
  }
}

}  // namespace projd::pg
