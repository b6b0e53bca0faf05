// stream_stats (transactional): per aggregate the number of events, the last version,
// the sum of versions and the last position. Because its writes commit with the fenced
// checkpoint, anyone can check exactly-once delivery from SQL:
//   event_count = number of the aggregate's events, version_sum = n(n+1)/2.
#include <map>
#include <tuple>

#include <projd/sql_array.h>
#include <projd/registry.h>

namespace projd::examples {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS stream_stats ("
    " bounded_context TEXT NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " event_count BIGINT NOT NULL,"
    " last_version BIGINT NOT NULL,"
    " version_sum BIGINT NOT NULL,"
    " last_position BIGINT NOT NULL,"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " PRIMARY KEY (bounded_context, aggregate_type, aggregate_id))";
constexpr const char* kResetSql = "TRUNCATE stream_stats";
constexpr const char* kUpsertSql =
    "INSERT INTO stream_stats AS s"
    " (bounded_context, aggregate_type, aggregate_id, event_count, last_version, version_sum,"
    "  last_position)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],"
    "                      $6::bigint[], $7::bigint[])"
    " ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE SET"
    "  event_count = s.event_count + EXCLUDED.event_count,"
    "  last_version = GREATEST(s.last_version, EXCLUDED.last_version),"
    "  version_sum = s.version_sum + EXCLUDED.version_sum,"
    "  last_position = GREATEST(s.last_position, EXCLUDED.last_position),"
    "  updated_at = now()";

class StreamStats final : public TransactionalProjection {
 public:
  std::string Name() const override { return "stream_stats"; }
  void Setup(projd::Transaction& tx) override { tx.exec0(kCreateSql); }
  void Reset(projd::Transaction& tx) override { tx.exec0(kResetSql); }

  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    struct Stats {
      std::int64_t count = 0, last_version = 0, version_sum = 0, last_position = 0;
    };
    // One row per aggregate per batch: the statement size follows the aggregates touched.
    std::map<std::tuple<std::string, std::string, std::string>, Stats> per_aggregate;
    for (const auto& e : batch) {
      auto& s = per_aggregate[{e.bounded_context, e.aggregate_type, e.aggregate_id}];
      ++s.count;
      s.last_version = std::max(s.last_version, e.aggregate_version);
      s.version_sum += e.aggregate_version;
      s.last_position = std::max(s.last_position, e.global_position);
    }
    if (per_aggregate.empty()) return;
    std::vector<std::string> contexts, types, ids;
    std::vector<std::int64_t> counts, last_versions, sums, positions;
    for (const auto& [key, s] : per_aggregate) {
      contexts.push_back(std::get<0>(key));
      types.push_back(std::get<1>(key));
      ids.push_back(std::get<2>(key));
      counts.push_back(s.count);
      last_versions.push_back(s.last_version);
      sums.push_back(s.version_sum);
      positions.push_back(s.last_position);
    }
    tx.exec_params0(kUpsertSql, projd::TextArray(contexts), projd::TextArray(types), projd::TextArray(ids),
                    projd::IntArray(counts), projd::IntArray(last_versions), projd::IntArray(sums),
                    projd::IntArray(positions));
  }
};

}  // namespace
}  // namespace projd::examples

PROJD_REGISTER_PROJECTION(projd::examples::StreamStats);
