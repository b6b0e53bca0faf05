// ProjectionSink: adapts a user Projection to the runtime's BatchSink (transactional
// projections get the unit's transaction as a projd::Transaction, which cannot end it; async
// ones an AsyncContext with a connection of their own), and runs a projection's Setup hook
// at worker start.
#pragma once

#include <memory>
#include <mutex>
#include <stop_token>

#include <pqxx/connection>

#include "orchestrator/runtime/batch_sink.h"
#include "orchestrator/pg/connection.h"
#include <projd/projection.h>

namespace projd {

class ProjectionSink final : public BatchSink {
 public:
  // `options` opens the async projection's own connection (lazily); its read_model_schema is
  // where the version's read model lives, and the unit connection of a transactional one
  // is opened with the same (SetReadModelSchema tells when a switch moved it).
  ProjectionSink(std::unique_ptr<Projection> projection, pg::ConnectionOptions options);
  ~ProjectionSink() override;

  std::string Name() const override { return name_; }
  bool Transactional() const override { return projection_->Kind() == ProjectionKind::kTransactional; }
  ReadScope Scope() const override;
  int BatchSize() const override;
  ErrorHandling OnError() const override;
  void Apply(std::span<const Event> batch, TransactionHandle& tx) override;
  void Handle(std::span<const Event> batch, bool replaying) override;
  void RequestStop() override;
  void StartBatch() override;
  void InterruptBatch() override;
  std::string ReadModelSchema() const override;
  void SetReadModelSchema(const std::string& schema) override;

  Projection& projection() { return *projection_; }

 private:
  // The search_path statement a unit runs first when the schema moved since its connection
  // was opened (none in the usual case: the connection searches it already).
  void FollowMovedSchema(pqxx::transaction_base& tx);

  std::unique_ptr<Projection> projection_;
  const std::string name_;
  pg::ConnectionOptions options_;
  const std::string connection_schema_;  // what the unit connection searches first
  mutable std::mutex schema_mu_;
  std::string schema_;                   // where the read model lives now
  std::unique_ptr<pqxx::connection> conn_;

  // What Transaction::stop_requested and AsyncContext::stop observe: one source per batch,
  // requested when the worker stops or the batch's partitions are handed over. The source
  // is fresh from StartBatch (the runner, before its read) or else from Apply/Handle.
  std::stop_token BeginBatch();
  void FreshStop();  // under stop_mu_
  std::mutex stop_mu_;
  bool stopping_ = false;
  bool started_ = false;  // StartBatch made the source of the batch about to be handled
  std::stop_source batch_stop_;
};

// Makes the rest of `tx` search `schema` (a version's read model) before `stable_schema`;
// "" = `stable_schema` only. For commands that run a projection's hooks in a transaction of
// their own (rebuild, dead-letter replay).
void SearchReadModelFirst(pqxx::transaction_base& tx, const std::string& schema, const std::string& stable_schema);

// Runs projection.Setup in its own transaction under a transaction-level advisory lock
// keyed by the projection's name, so workers starting together do not race on DDL. The
// connection searches options.read_model_schema first (the version's schema).
void SetUpProjection(Projection& projection, const pg::ConnectionOptions& options);

}  // namespace projd
