#include "orchestrator/reading/pg/seeder.h"

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// Each stream's version before the seed, fixed once so chunks continue it exactly.
constexpr const char* kBaseSql =
    "CREATE TEMP TABLE projd_seed_base ON COMMIT PRESERVE ROWS AS"
    " SELECT a AS idx, format('%s-%s', $1::text, lpad(a::text, 6, '0')) AS aggregate_id,"
    "        coalesce(h.aggregate_version, 0) AS base"
    " FROM generate_series(0, $2::bigint - 1) AS a"
    " LEFT JOIN aggregate_heads h ON h.bounded_context = 'seed' AND h.aggregate_type = 'account'"
    "  AND h.aggregate_id = format('%s-%s', $1::text, lpad(a::text, 6, '0'))";
constexpr const char* kIndexBaseSql = "CREATE UNIQUE INDEX ON projd_seed_base (idx)";
// Events i in [$1, $2): aggregate i mod N, version base + i div N + 1.
constexpr const char* kChunkSql =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version,"
    " event_type, payload, metadata)"
    " SELECT 'seed', 'account', b.aggregate_id, b.base + i / $3::bigint + 1,"
    "        (ARRAY['AccountOpened','MoneyDeposited','MoneyWithdrawn','AddressChanged'])"
    "          [CASE WHEN i / $3::bigint = 0 THEN 1 ELSE 2 + (i % 3)::int END],"
    "        convert_to(format('{\"n\":%s,\"amount\":%s}', i, (i * 7919) % 997), 'UTF8'),"
    "        '{\"source\":\"projd seed\"}'::jsonb"
    " FROM generate_series($1::bigint, $2::bigint - 1) AS i"
    " JOIN projd_seed_base b ON b.idx = i % $3::bigint"
    " ORDER BY i"
    " RETURNING global_position";
constexpr const char* kChunkRangeSql =
    "WITH ins AS (%s) SELECT count(*), coalesce(min(global_position), 0),"
    " coalesce(max(global_position), 0) FROM ins";
constexpr const char* kHeadsSql =
    "INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version)"
    " SELECT 'seed', 'account', b.aggregate_id,"
    "        b.base + ($1::bigint / $2::bigint) + CASE WHEN b.idx < $1::bigint % $2::bigint THEN 1 ELSE 0 END"
    " FROM projd_seed_base b"
    " WHERE b.idx < $1::bigint"
    " ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE"
    " SET aggregate_version = EXCLUDED.aggregate_version, updated_at = now()";

}  // namespace

SeedResult Seed(const ConnectionOptions& options, const SeedOptions& seed,
                const std::function<void(std::int64_t)>& progress) {
  if (seed.aggregates <= 0 || seed.events < 0 || seed.chunk <= 0) {
    throw PermanentError("seed: aggregates and chunk must be positive, events not negative");
  }
  auto conn = Connect(options);
  SeedResult result;
  std::string chunk_sql = kChunkRangeSql;
  chunk_sql.replace(chunk_sql.find("%s"), 2, kChunkSql);
  try {
    {
      pqxx::work tx(*conn);
      tx.exec_params0(kBaseSql, seed.prefix, seed.aggregates);
      tx.exec0(kIndexBaseSql);
      tx.commit();
    }
    for (std::int64_t from = 0; from < seed.events; from += seed.chunk) {
      const std::int64_t to = std::min(seed.events, from + seed.chunk);
      pqxx::work tx(*conn);
      const auto r = tx.exec_params1(chunk_sql, from, to, seed.aggregates);
      if (to >= seed.events) tx.exec_params0(kHeadsSql, seed.events, seed.aggregates);
      tx.commit();
      result.events += r[0].as<std::int64_t>();
      if (result.first_position == 0) result.first_position = r[1].as<std::int64_t>();
      result.last_position = std::max(result.last_position, r[2].as<std::int64_t>());
      if (progress) progress(result.events);
    }
  } catch (const pqxx::unique_violation& e) {
    throw PermanentError(std::string("seed: a concurrent writer appended to a seed stream: ") + e.what());
  } catch (const std::exception&) {
    Rethrow("seed");
  }
  return result;
}

}  // namespace projd::pg
