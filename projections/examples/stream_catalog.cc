// stream_catalog (transactional): one row per stream (bounded context, aggregate type,
// aggregate id) with the positions of its first and last events and its last event type:
// the list of streams a UI or an operator browses. One upsert per batch, committed with the
// fenced checkpoint, like stream_stats; the two run side by side in the benchmark's "two
// transactional projections in one worker" row.
#include <map>
#include <tuple>

#include <projd/sql_array.h>
#include <projd/registry.h>

namespace projd::examples {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS stream_catalog ("
    " bounded_context TEXT NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " first_position BIGINT NOT NULL,"
    " last_position BIGINT NOT NULL,"
    " last_event_type TEXT NOT NULL,"
    " PRIMARY KEY (bounded_context, aggregate_type, aggregate_id))";
constexpr const char* kResetSql = "TRUNCATE stream_catalog";
constexpr const char* kUpsertSql =
    "INSERT INTO stream_catalog AS s"
    " (bounded_context, aggregate_type, aggregate_id, first_position, last_position, last_event_type)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])"
    " ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE SET"
    "  first_position = LEAST(s.first_position, EXCLUDED.first_position),"
    "  last_event_type = CASE WHEN EXCLUDED.last_position > s.last_position"
    "                    THEN EXCLUDED.last_event_type ELSE s.last_event_type END,"
    "  last_position = GREATEST(s.last_position, EXCLUDED.last_position)";

class StreamCatalog final : public TransactionalProjection {
 public:
  std::string Name() const override { return "stream_catalog"; }
  void Setup(projd::Transaction& tx) override { tx.exec0(kCreateSql); }
  void Reset(projd::Transaction& tx) override { tx.exec0(kResetSql); }

  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    struct Row {
      std::int64_t first = 0, last = 0;
      std::string last_type;
    };
    std::map<std::tuple<std::string, std::string, std::string>, Row> per_stream;
    for (const auto& e : batch) {  // position order: the first seen is the first
      auto [it, fresh] = per_stream.try_emplace({e.bounded_context, e.aggregate_type, e.aggregate_id});
      if (fresh) it->second.first = e.global_position;
      it->second.last = e.global_position;
      it->second.last_type = e.event_type;
    }
    if (per_stream.empty()) return;
    std::vector<std::string> contexts, types, ids, last_types;
    std::vector<std::int64_t> firsts, lasts;
    for (const auto& [key, r] : per_stream) {
      contexts.push_back(std::get<0>(key));
      types.push_back(std::get<1>(key));
      ids.push_back(std::get<2>(key));
      firsts.push_back(r.first);
      lasts.push_back(r.last);
      last_types.push_back(r.last_type);
    }
    tx.exec_params0(kUpsertSql, projd::TextArray(contexts), projd::TextArray(types), projd::TextArray(ids),
                    projd::IntArray(firsts), projd::IntArray(lasts), projd::TextArray(last_types));
  }
};

}  // namespace
}  // namespace projd::examples

PROJD_REGISTER_PROJECTION(projd::examples::StreamCatalog);
