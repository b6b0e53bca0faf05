// The CoordinationStore contract against PostgreSQL, the store production runs; the same
// cases run against the fake in tests/unit/coordination_store_contract_test.cpp.
#include <string>

#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "tests/support/coordination_store_contract.h"
#include "tests/support/pg_test_schema.h"

namespace {

class PgStoreFixture final : public projd::testing::CoordinationStoreFixture {
 public:
  projd::CoordinationStore& store() override { return store_; }

  // Ages are measured against now(), so moving every recorded time back by d is the same
  // as waiting d.
  void Elapse(std::chrono::milliseconds d) override {
    const std::string by = "interval '" + std::to_string(d.count()) + " milliseconds'";
    db_.Exec("UPDATE projd_workers SET last_heartbeat = last_heartbeat - " + by +
             ", registered_at = registered_at - " + by);
    db_.Exec("UPDATE projd_replica_sets SET generation_formed_at = generation_formed_at - " + by +
             ", created_at = created_at - " + by);
    db_.Exec("UPDATE projd_assignments SET assigned_at = assigned_at - " + by);
  }

 private:
  projd::testing::PgTestSchema db_;
  projd::pg::PgCoordinationStore store_{db_.options()};
};

}  // namespace

PROJD_COORDINATION_STORE_CONTRACT(PgStoreFixture, "[contract][coordination]")
