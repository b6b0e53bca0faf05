#include "projections/projection_sink.h"

#include <algorithm>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/versions/lane_key.h"

namespace projd {

ProjectionSink::ProjectionSink(std::unique_ptr<Projection> projection, pg::ConnectionOptions options)
    : projection_(std::move(projection)),
      name_(LaneKey(projection_->Name(), projection_->Version())),
      options_(std::move(options)),
      connection_schema_(options_.read_model_schema),
      schema_(options_.read_model_schema) {}

ProjectionSink::~ProjectionSink() = default;

ReadScope ProjectionSink::Scope() const {
  const auto scope = projection_->Scope();
  return ReadScope{scope.aggregate_types, scope.bounded_contexts};
}

int ProjectionSink::BatchSize() const { return std::clamp(projection_->BatchSize(), 0, 100000); }

ErrorHandling ProjectionSink::OnError() const {
  const auto retry = projection_->Retry();
  ErrorHandling h;
  h.max_attempts = std::max(1, retry.max_attempts);
  h.initial_backoff = retry.initial_backoff;
  h.max_backoff = retry.max_backoff;
  h.skip = projection_->OnError() == ErrorPolicy::kSkip;
  return h;
}

// What escapes a projection's Handle is sorted here, where pqxx is visible: database
// trouble becomes a projd::Error (retried forever, never counted against the error policy),
// everything else a HandlerError (pg::RethrowFromHandler; docs/projections.md, "Errors").
void ProjectionSink::Apply(std::span<const Event> batch, TransactionHandle& tx) {
  try {
    FollowMovedSchema(pg::Work(tx));
    Transaction handle(pg::Work(tx), BeginBatch());
    static_cast<TransactionalProjection&>(*projection_).Handle(batch, handle);
  } catch (const std::exception&) {
    pg::RethrowFromHandler("projection " + name_);
  }
}

void ProjectionSink::Handle(std::span<const Event> batch, bool replaying) {
  const auto schema = ReadModelSchema();
  if (conn_ && options_.read_model_schema != schema) conn_.reset();  // a switch moved it: reconnect
  options_.read_model_schema = schema;
  if (!conn_ || !conn_->is_open()) conn_ = pg::Connect(options_);  // throws projd::Error
  AsyncContext context;
  context.replaying = replaying;
  context.connection = conn_.get();
  context.read_model_schema = schema;
  context.stop = BeginBatch();
  try {
    static_cast<AsyncProjection&>(*projection_).Handle(batch, context);
  } catch (const std::exception&) {
    try {
      pg::RethrowFromHandler("projection " + name_);
    } catch (const Error&) {
      conn_.reset();  // a database error: the next batch starts on a fresh session
      throw;
    }
  }
}

std::string ProjectionSink::ReadModelSchema() const {
  std::lock_guard lock(schema_mu_);
  return schema_;
}

void ProjectionSink::SetReadModelSchema(const std::string& schema) {
  std::lock_guard lock(schema_mu_);
  schema_ = schema;
}

void ProjectionSink::FollowMovedSchema(pqxx::transaction_base& tx) {
  const auto schema = ReadModelSchema();
  if (schema != connection_schema_) SearchReadModelFirst(tx, schema, options_.schema);
}

void SearchReadModelFirst(pqxx::transaction_base& tx, const std::string& schema, const std::string& stable_schema) {
  const auto path = schema.empty() ? tx.quote_name(stable_schema) : tx.quote_name(schema) + ", " + tx.quote_name(stable_schema);
  tx.exec_params("SELECT pg_catalog.set_config('search_path', $1, true)", path);
}

void ProjectionSink::FreshStop() {
  batch_stop_ = std::stop_source();
  if (stopping_) batch_stop_.request_stop();
}

void ProjectionSink::StartBatch() {
  std::lock_guard lock(stop_mu_);
  FreshStop();
  started_ = true;
}

std::stop_token ProjectionSink::BeginBatch() {
  std::lock_guard lock(stop_mu_);
  if (!started_) FreshStop();  // called without StartBatch (a replay, a test): a batch of its own
  started_ = false;
  return batch_stop_.get_token();
}

void ProjectionSink::RequestStop() {
  std::lock_guard lock(stop_mu_);
  stopping_ = true;
  batch_stop_.request_stop();
}

void ProjectionSink::InterruptBatch() {
  std::lock_guard lock(stop_mu_);
  batch_stop_.request_stop();
}

void SetUpProjection(Projection& projection, const pg::ConnectionOptions& options) {
  pg::Translate("set up projection " + projection.Name(), [&] {
    auto conn = pg::Connect(options);
    pqxx::work tx(*conn);
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('projd_setup:' || $1))",
                   LaneKey(projection.Name(), projection.Version()));
    Transaction handle(tx);
    projection.Setup(handle);
    tx.commit();
  });
}

}  // namespace projd
