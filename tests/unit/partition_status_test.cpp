// DescribePartition: which state, owner and error `projd status` shows for a partition.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/partition_status.h"

using namespace projd;

namespace {

PartitionFacts Owned() {
  PartitionFacts f;
  f.projection = "orders";
  f.partition = 3;
  f.position = 90;
  f.latest_position = 100;
  f.oldest_pending_age_seconds = 4.5;
  f.owner_id = "id-a";
  f.owner_name = "worker-a";
  f.owner_live = true;
  return f;
}

StateReport Report(const std::string& worker_id, const std::string& state, const std::string& error = "") {
  StateReport r;
  r.worker_id = worker_id;
  r.worker_name = worker_id == "id-a" ? "worker-a" : "";
  r.state = state;
  r.last_error = error;
  if (!error.empty()) r.error_age_seconds = 12;
  r.age_seconds = 30;
  return r;
}

}  // namespace

TEST_CASE("a partition shows its checkpoint, lag and live owner", "[unit][status]") {
  const auto s = DescribePartition(Owned());
  CHECK(s.position == 90);
  CHECK(s.lag_events == 10);
  CHECK(s.lag_seconds == 4.5);
  CHECK(s.owner == "worker-a");
  CHECK(s.owner_id == "id-a");
  CHECK(s.state == "-");
  CHECK(s.source == StateSource::kNone);
  CHECK(s.last_error.empty());
}

TEST_CASE("a checkpoint ahead of the latest event never shows a negative lag", "[unit][status]") {
  auto f = Owned();
  f.position = 120;
  f.oldest_pending_age_seconds = -1;
  const auto s = DescribePartition(f);
  CHECK(s.lag_events == 0);
  CHECK(s.lag_seconds == 0);
}

TEST_CASE("a partition without an owner, or whose owner is gone, is unassigned", "[unit][status]") {
  auto none = Owned();
  none.owner_id.clear();
  none.owner_name.clear();
  none.owner_live = false;
  CHECK(DescribePartition(none).owner == "unassigned");

  auto gone = Owned();
  gone.owner_live = false;
  const auto s = DescribePartition(gone);
  CHECK(s.owner == "unassigned");
  CHECK(s.owner_id.empty());
}

TEST_CASE("the current owner's report is the partition's state and error", "[unit][status]") {
  auto f = Owned();
  f.report = Report("id-a", "failing", "boom");
  const auto s = DescribePartition(f);
  CHECK(s.state == "failing");
  CHECK(s.source == StateSource::kOwner);
  CHECK(s.report_current);
  CHECK(s.last_error == "boom");
  REQUIRE(s.error_age_seconds);
  CHECK(*s.error_age_seconds == 12);
}

TEST_CASE("a report of a former or gone owner is stale, never the present state", "[unit][status]") {
  SECTION("the owner changed") {
    auto f = Owned();
    f.report = Report("id-b", "failing", "boom");
    const auto s = DescribePartition(f);
    CHECK(s.state == "-");
    CHECK(s.source == StateSource::kStale);
    CHECK_FALSE(s.report_current);
    CHECK(s.last_error == "boom");  // kept, marked stale by report_current
  }
  SECTION("the owner that reported is gone") {
    auto f = Owned();
    f.owner_live = false;
    f.report = Report("id-a", "running");
    const auto s = DescribePartition(f);
    CHECK(s.state == "-");
    CHECK(s.source == StateSource::kStale);
    CHECK(s.owner == "unassigned");
  }
}

TEST_CASE("an operator pause shows as paused whatever the owner reported", "[unit][status]") {
  auto f = Owned();
  f.pause = PauseFact{true, "ops", "maintenance", 60};
  f.report = Report("id-a", "running");
  auto s = DescribePartition(f);
  CHECK(s.state == "paused");
  CHECK(s.source == StateSource::kPause);
  CHECK(s.report_current);
  REQUIRE(s.pause);
  CHECK(s.pause->whole_projection);

  f.owner_live = false;  // paused while nobody owns it
  s = DescribePartition(f);
  CHECK(s.state == "paused");
  CHECK(s.owner == "unassigned");
}

TEST_CASE("an empty state in the owner's report shows as unknown", "[unit][status]") {
  auto f = Owned();
  f.report = Report("id-a", "");
  CHECK(DescribePartition(f).state == "-");
}
