// The CoordinationStore contract against the in-memory fake the coordinator's unit tests
// use; the same cases run against PostgreSQL in coordination_store_contract_pgtest.cpp.
#include "tests/support/coordination_store_contract.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_coordination_store.h"

namespace {

class FakeStoreFixture final : public projd::testing::CoordinationStoreFixture {
 public:
  projd::CoordinationStore& store() override { return store_; }
  void Elapse(std::chrono::milliseconds d) override { clock_.Advance(d); }

 private:
  projd::testing::FakeClock clock_;  // the fake's "database clock"
  projd::testing::FakeCoordinationStore store_{clock_};
};

}  // namespace

PROJD_COORDINATION_STORE_CONTRACT(FakeStoreFixture, "[contract][coordination]")
